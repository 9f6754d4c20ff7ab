import Foundation
import Glibc
import Testing
import TestSupport

/// The one place monitord signals a process it did not start. These tests
/// surround a real monitord with near misses and let it search for a stale
/// player many times: only the true stale players may ever be signalled.
///
/// The rule matches machine-wide by name and device and tests run in
/// parallel, so the devices here (lb71c, lb72c, lb80c, lb81c) are used by no
/// other test. Both identities (`-o DEVICE` and `--stale-match`) are tested.
@Suite struct StaleKillSafetyTests {
    /// A shell copied under the player's name: it idles with any argv, so
    /// command lines a real player would reject can be put on show.
    static func shellNamed(_ name: String, in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let shell = URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path
        let path = directory + "/" + name
        try copyExecutable(shell, to: path)
        chmod(directory, 0o755)
        return path
    }

    static let idle = "while :; do sleep 1; done"

    /// Both identities a leftover can be known by, each on a device of its
    /// own (the parametrized runs are parallel): the `-o DEVICE` rule, and
    /// `--stale-match` elements with `--alsa-device`.
    enum Identity: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case outputDevice, staleMatch
        var testDescription: String { rawValue }

        /// For repeatedSearchesEndOnlyTrueStalePlayers and ownChildIsNeverEnded.
        var devices: (String, String) {
            switch self {
            case .outputDevice: return ("lb71c", "lb72c")
            case .staleMatch: return ("lb80c", "lb81c")
            }
        }

        /// monitord's options that choose the identity.
        func options(_ device: String) -> [String] {
            switch self {
            case .outputDevice: return []
            case .staleMatch: return ["--alsa-device", device, "--stale-match", "--zone=kitchen", "--stale-match", device]
            }
        }

        /// A true leftover's arguments (pcm-holder reads `-o`), and a second
        /// form that must match too (`-oDEVICE`; the elements reordered).
        func leftover(_ device: String) -> (holder: [String], other: [String]) {
            switch self {
            case .outputDevice: return (["-n", "old", "-o", device], ["-o\(device)"])
            case .staleMatch: return (["--zone=kitchen", "-o", device], [device, "-n", "old", "--zone=kitchen"])
            }
        }

        /// Same name, same user, near misses of the identity.
        func nearMisses(_ device: String) -> [[String]] {
            switch self {
            case .outputDevice:
                return [["-o", device + "x"], ["-o=\(device)"], ["--output", device], ["-n", device],
                        ["-o", device, "-o", "lb70c"], ["-olb71"], ["--", "-o", device], [device]]
            case .staleMatch:
                return [["--zone=kitchen"], [device], ["--zone=kitchen", device + "x"], ["--zone", "kitchen", device],
                        ["--zone=kitchen2", device], ["--zone=kitchen " + device], ["--zone=kitchen", "-o\(device)"],
                        ["-zone=kitchen", device], ["--ZONE=kitchen", device]]
            }
        }

        /// How the search that finds nothing is logged.
        func nothingFound(_ device: String) -> String {
            switch self {
            case .outputDevice: return "no stale squeezelite -o \(device) found"
            case .staleMatch: return "no stale squeezelite with --zone=kitchen, \(device) found"
            }
        }
    }

    @Test(.needsTestPlugin, .timeLimit(.minutes(2)), arguments: Identity.allCases)
    func repeatedSearchesEndOnlyTrueStalePlayers(identity: Identity) throws {
        let scratch = Scratch()
        let device = identity.devices.0
        let card = FakeSoundCard(scratch, devices: [device])
        let leftover = identity.leftover(device)
        // The stale player: holds the device, the exact identity.
        let stale = try card.startPlayer(named: "squeezelite", arguments: leftover.holder, logName: "stale")
        #expect(eventually { card.isHeld(card: 0) })
        // From now on every probe fails, so monitord searches again and again.
        card.set(device, "fail-open EBUSY")

        // The decoys' executable lives where another user can run it too.
        let shared = try SharedDirectory()
        defer { withExtendedLifetime(shared) {} }
        let squeezelite = try shared.copy(URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path, as: "squeezelite")
        var spawned: [SpawnedChild] = []
        defer {
            for child in spawned { child.end() }
            stale.end()
        }
        func start(_ argv: [String]) throws -> pid_t {
            let child = try SpawnedChild(argv, environment: ProcessInfo.processInfo.environment,
                                         stdout: "/dev/null", stderr: "/dev/null")
            spawned.append(child)
            return child.pid
        }
        // A second true stale player, in another form (`-olb71c`; the
        // elements in another order).
        let joined = try start([squeezelite, "-c", Self.idle] + leftover.other)

        // Near misses: same name, same user, the identity only as a
        // substring, in another option or position, overridden, or after `--`.
        var decoys: [String: pid_t] = [:]
        for arguments in identity.nearMisses(device) {
            decoys[arguments.joined(separator: " ")] = try start([squeezelite, "-c", Self.idle] + arguments)
        }
        let exact = leftover.holder.joined(separator: " ")
        // argv[0] says squeezelite, but the executable is the shell.
        decoys["argv[0] spoofed"] = try start(["/bin/bash", "-c", "exec -a squeezelite /bin/sh -c '\(Self.idle)' \(exact)"])
        // The exact command line, run by another user (root can switch users;
        // as a user, root's own processes are the other user's).
        if canRunAsOtherUser {
            decoys["other user"] = try start(asOtherUser + [squeezelite, "-c", Self.idle] + leftover.holder)
        } else {
            RootOnly.partSkipped("the other-user decoy (needs root and a /tmp that others can reach)")
        }
        // A zombie: an exact match that exited, whose parent never waits.
        let zombieParent = try start(["/bin/sh", "-c", "\"$0\" -c 'exit 0' \(exact) & exec sleep 1000", squeezelite])
        var zombie: pid_t = 0
        #expect(eventually {
            zombie = ProcessTable.children(of: zombieParent).first { ProcessTable.state(of: $0) == "Z" } ?? 0
            return zombie != 0
        }, "no zombie appeared")
        decoys["zombie"] = zombie
        #expect(eventually { decoys.values.allSatisfy { ProcessTable.status(of: $0, field: "Uid") != nil } })
        if let otherUser = decoys["other user"] {
            // Running the decoy's own executable as that user, not a setpriv
            // that failed to exec it.
            #expect(eventually {
                ProcessTable.status(of: otherUser, field: "Uid")?.hasPrefix(otherUID) == true
                    && ProcessTable.isAlive(otherUser)
                    && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(otherUser)/exe")) == canonicalPath(squeezelite)
            }, "the other user's decoy is not running \(squeezelite)")
        }

        // monitord itself runs as a copy named squeezelite and, without `--`,
        // its own argv ends in the identity (and holds the --stale-match
        // elements): it matches the rule but for being itself.
        let selfCopy = scratch.file("self/squeezelite")
        try FileManager.default.createDirectory(atPath: scratch.file("self"), withIntermediateDirectories: true)
        try copyExecutable(Products.monitord, to: selfCopy)
        // Its child is a pcm-holder named squeezelite too.
        let player = scratch.file("real/squeezelite")
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: true)
        try copyExecutable(Products.pcmHolder, to: player)
        let monitord = try Launched([selfCopy, "--snd-dir", card.soundDirectory, "--stale-after", "1",
                                     "--probe-interval", "10ms", "--probe-duration", "100ms", "--stop-timeout", "1s"]
                                    + identity.options(device) + [player] + leftover.holder,
                                    scratch: scratch, environment: card.environment)

        #expect(monitord.waitForLog("ending stale player pid \(stale) "), "\(monitord.log)")
        #expect(monitord.waitForLog("ending stale player pid \(joined) "), "\(monitord.log)")
        #expect(stale.wait() == .exited(0), "the stale player got SIGTERM and closed its device")
        // Many more searches with the decoys still there (searches back off:
        // probes 1, 2, 4, ..., 32, then every 32th).
        #expect(monitord.waitForLog(identity.nothingFound(device), count: 10, timeout: .seconds(60)), "\(monitord.log)")

        let ended = monitord.logLines.filter { $0.contains("ending stale player pid") }
        #expect(ended.count == 2, "only the two stale players: \(ended)")
        #expect(monitord.count("SIGKILL") == 0 || monitord.count("stale player pid \(joined) ignored SIGTERM") == 1)
        for (label, pid) in decoys {
            #expect(!monitord.log.contains("pid \(pid) ("), "decoy '\(label)' (pid \(pid)) was named")
            if label == "zombie" {
                #expect(ProcessTable.state(of: pid) == "Z")
            } else {
                #expect(ProcessTable.isAlive(pid), "decoy '\(label)' (pid \(pid)) is gone")
            }
        }
        #expect(monitord.isRunning, "monitord never signalled itself")

        // The device comes back: monitord's own squeezelite starts and holds it,
        // and is left alone.
        card.set(device, "ok")
        #expect(monitord.waitForLog("started squeezelite"), "\(monitord.log)")
        let child = try #require(monitord.firstStartedPID())
        #expect(eventually { card.isHeld(card: 0) })
        usleep(300_000)
        #expect(ProcessTable.isAlive(child))
        #expect(monitord.logLines.filter { $0.contains("ending stale player pid") }.count == 2)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
        for (label, pid) in decoys where label != "zombie" {
            #expect(ProcessTable.isAlive(pid), "decoy '\(label)' (pid \(pid)) is gone")
        }
    }

    /// Restarts through the gate: monitord's previous child (a squeezelite on
    /// the same device) is never treated as stale, and its leftovers are
    /// gone before the next probe, so nothing is there to be mistaken.
    @Test(.needsTestPlugin, .timeLimit(.minutes(1)), arguments: Identity.allCases)
    func ownChildIsNeverEnded(identity: Identity) throws {
        let scratch = Scratch()
        let device = identity.devices.1
        let card = FakeSoundCard(scratch, devices: [device])
        let squeezelite = try Self.shellNamed("squeezelite", in: scratch.file("bin"))
        // The child plays briefly and fails: every restart goes through the
        // gate, and a search runs on every probe.
        let monitord = try Launched([Products.monitord, "--snd-dir", card.soundDirectory, "--stale-after", "1",
                                     "--probe-interval", "50ms", "--probe-duration", "50ms",
                                     "--backoff-initial", "50ms", "--backoff-max", "100ms"]
                                    + (identity == .staleMatch ? ["--alsa-device", device, "--stale-match", device] : [])
                                    + ["--", squeezelite, "-c", "echo x >> \(scratch.file("starts")); sleep 0.2; exit 1", "-o", device],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { scratch.lines("starts").count >= 3 })
        // Make the device fail so that searches run between the runs.
        card.set(device, "fail-open EBUSY")
        let nothingFound = identity == .staleMatch ? "no stale squeezelite with \(device) found" : "no stale squeezelite -o \(device) found"
        #expect(monitord.waitForLog(nothingFound, count: 5, timeout: .seconds(30)), "\(monitord.log)")
        card.set(device, "ok")
        let before = scratch.lines("starts").count
        #expect(eventually { scratch.lines("starts").count >= before + 2 })
        #expect(monitord.count("ending stale player") == 0, "\(monitord.log)")
        #expect(monitord.count("killed by SIGTERM") == 0, "no child was ended by a stale search")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}
