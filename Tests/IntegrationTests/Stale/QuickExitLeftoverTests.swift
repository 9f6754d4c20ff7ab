import Foundation
import Glibc
import Testing
import TestSupport

/// The quick-exit rule on the real binary: a python3 player that exits 1 when
/// its TCP port is taken is blocked by a leftover of itself that holds the
/// port and no device. With `--stale-match SCRIPT --stale-match PORT` the
/// leftover is ended after three quick exits and the supervised player gets
/// the port, while the same script on another port lives; without
/// `--stale-match` nothing is ended.
@Suite struct QuickExitLeftoverTests {
    /// Binds 127.0.0.1:PORT and holds it until killed (SIGTERM's default
    /// action), after leaving a file named after its pid beside the script;
    /// exits 1 at once when the port is taken.
    static let playerScript = """
    import os, socket, sys, time
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", int(sys.argv[1])))
        listener.listen(1)
    except OSError as error:
        print("port taken:", error, file=sys.stderr, flush=True)
        sys.exit(1)
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    open(os.path.join(here, "listening-%d" % os.getpid()), "w").close()
    while True:
        time.sleep(3600)
    """

    /// Two ports nobody listens on now (the kernel's choice for port 0).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { general in
                    bind(fd, general, length) == 0 && getsockname(fd, general, &length) == 0
                }
            }
            try #require(bound)
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    struct Setup {
        let scratch = Scratch()
        let script: String
        let port: Int
        let leftover: pid_t
        let decoy: pid_t

        init() throws {
            script = scratch.file("player.py")
            try QuickExitLeftoverTests.playerScript.write(toFile: script, atomically: true, encoding: .utf8)
            let ports = try QuickExitLeftoverTests.freePorts(2)
            port = ports[0]
            let environment = ProcessInfo.processInfo.environment
            leftover = try spawnProcess(["/usr/bin/python3", script, "\(ports[0])"], environment: environment,
                                        stdout: "/dev/null", stderr: scratch.file("leftover.err"))
            decoy = try spawnProcess(["/usr/bin/python3", script, "\(ports[1])"], environment: environment,
                                     stdout: "/dev/null", stderr: scratch.file("decoy.err"))
        }

        func isListening(_ pid: pid_t) -> Bool {
            FileManager.default.fileExists(atPath: scratch.file("listening-\(pid)"))
        }

        func end() {
            for pid in [leftover, decoy] { kill(pid, SIGKILL); _ = waitForExit(pid) }
        }
    }

    static let backoff = ["--backoff-initial", "200ms", "--backoff-max", "1s", "--stop-timeout", "2s"]

    @Test(.timeLimit(.minutes(1)))
    func aLeftoverHoldingThePortIsEndedAndThePlayerRuns() throws {
        let setup = try Setup()
        defer { setup.end() }
        #expect(eventually { setup.isListening(setup.leftover) && setup.isListening(setup.decoy) },
                "\(setup.scratch.read("leftover.err"))")
        let began = ContinuousClock.now
        let monitord = try Monitord(["--stale-match", setup.script, "--stale-match", "\(setup.port)"] + Self.backoff
                                        + ["--", "/usr/bin/python3", setup.script, "\(setup.port)"],
                                    scratch: setup.scratch)
        #expect(monitord.waitForLog("ending leftover pid \(setup.leftover) ", timeout: .seconds(20)), "\(monitord.log)")
        #expect(waitForExit(setup.leftover) == .signaled(SIGTERM), "the leftover got SIGTERM")
        var child: pid_t?
        let runs = eventually(timeout: .seconds(20)) {
            child = monitord.startedPIDs.last
            return child.map(setup.isListening) ?? false
        }
        let took = ContinuousClock.now - began
        #expect(runs, "the supervised player holds the port: \(monitord.log)")
        #expect(took < .seconds(20), "took \(took)")
        print("quick-exit leftover ended and the player listening after \(took)")
        #expect(monitord.count("quick-exit rule: after 3 quick exits in a row, a leftover is python3") == 1, "\(monitord.log)")
        #expect(monitord.count("python3 exited 3 times in a row after runs shorter than 10 s") == 1, "\(monitord.log)")
        #expect(monitord.count("ending leftover pid") == 1, "\(monitord.log)")
        #expect(monitord.count("leftover pid \(setup.leftover) has exited; python3 may start") == 1, "\(monitord.log)")
        #expect(ProcessTable.isAlive(setup.decoy), "the same script on another port lives")
        #expect(!monitord.log.contains("pid \(setup.decoy)"), "the decoy was named: \(monitord.log)")
        // The exit was held until the leftover was gone: no start between them.
        let lines = monitord.logLines
        let ending = try #require(lines.firstIndex { $0.contains("ending leftover pid") })
        let gone = try #require(lines.firstIndex { $0.contains("has exited; python3 may start") })
        #expect(!lines[ending..<gone].contains { $0.contains("started python3") }, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        if let child { #expect(!ProcessTable.isAlive(child)) }
    }

    @Test(.timeLimit(.minutes(1)))
    func withoutStaleMatchNothingIsEnded() throws {
        let setup = try Setup()
        defer { setup.end() }
        #expect(eventually { setup.isListening(setup.leftover) && setup.isListening(setup.decoy) },
                "\(setup.scratch.read("leftover.err"))")
        let monitord = try Monitord(Self.backoff + ["--", "/usr/bin/python3", setup.script, "\(setup.port)"],
                                    scratch: setup.scratch)
        // Five starts: four quick exits, one more than the rule's three.
        #expect(monitord.waitForLog("started python3", count: 5, timeout: .seconds(20)), "\(monitord.log)")
        #expect(monitord.waitForLog(") exited 1 after", count: 4), "\(monitord.log)")
        #expect(ProcessTable.isAlive(setup.leftover), "the leftover was ended without --stale-match")
        #expect(ProcessTable.isAlive(setup.decoy))
        #expect(!monitord.log.contains("leftover"), "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}
