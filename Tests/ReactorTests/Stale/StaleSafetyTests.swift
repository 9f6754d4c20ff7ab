import CKernelShim
import Foundation
import Glibc
import Reactor
import Testing
import TestSupport

/// Stale-player matching against the processes it must never pick: kernel
/// threads, /proc entries that cannot be read, monitord and its child, and a
/// pid whose process changed (exited, exec'd, or was reused) after the scan.
/// Real processes here use device lb73c, which no other test uses.
@Suite struct StaleSafetyTests {
    static let device = "lb73c"

    /// Every test runs for both identities a leftover can be known by: the
    /// `-o DEVICE` rule and `--stale-match` elements (given here in another
    /// order than the argv has them).
    enum Identity: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case outputDevice, staleMatch
        var testDescription: String { rawValue }

        /// What a leftover has after argv[0] (the device last).
        var arguments: [String] {
            switch self {
            case .outputDevice: return ["-o", StaleSafetyTests.device]
            case .staleMatch: return ["--zone=kitchen", StaleSafetyTests.device]
            }
        }

        func rule(baseName: String = "squeezelite", executable: String? = nil, value: String = StaleSafetyTests.device,
                  uid: UInt32, excluded: Set<Int32>) -> StalePlayerRule {
            switch self {
            case .outputDevice:
                return StalePlayerRule(baseName: baseName, executable: executable, device: value, uid: uid, excluded: excluded)
            case .staleMatch:
                return StalePlayerRule(baseName: baseName, executable: executable, device: nil,
                                       arguments: value == StaleSafetyTests.device ? [value, "--zone=kitchen"] : [value],
                                       uid: uid, excluded: excluded)
            }
        }
    }

    // MARK: Kernel threads

    /// Kernel threads have no command line: whatever their name, none is
    /// ever found or verified, even by a rule that names it.
    @Test(arguments: Identity.allCases)
    func kernelThreadsAreNeverFound(identity: Identity) {
        let kernelThreads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?
            .compactMap { Int32($0) }
            .filter { $0 == 2 || Self.parent(of: $0) == 2 } ?? []
        #expect(!kernelThreads.isEmpty, "kthreadd and its threads are visible in /proc")
        var names = Set<String>()
        for pid in kernelThreads.prefix(40) {
            guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines) else { continue }
            names.insert(name)
        }
        #expect(!names.isEmpty)
        for name in names {
            for device in [Self.device, "", name] {
                let rule = identity.rule(baseName: name, value: device, uid: getuid(), excluded: [])
                let found = Set(StalePlayers.find(rule))
                #expect(found.isDisjoint(with: kernelThreads), "kernel thread matched \(name) '\(device)'")
                for pid in kernelThreads.prefix(5) {
                    #expect(!StalePlayers.verify(pid: pid, rule: rule))
                }
            }
        }
        // The pure rule says the same for an empty command line, whatever the rest.
        let rule = identity.rule(baseName: "kthreadd", value: "", uid: 0, excluded: [])
        #expect(!StalePlayers.matches(commandLine: [], executable: nil, uid: 0, state: "S", rule: rule))
        #expect(!StalePlayers.matches(commandLine: [], executable: "kthreadd", uid: 0, state: "I", rule: rule))
    }

    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    // MARK: Entries that cannot be read

    /// A process forked by monitord (or by its child) that has not exec'd yet
    /// shows monitord's own command line, which can end in `-o DEVICE`: it is
    /// never a stale player. An orphan (parent 1) still is, even when
    /// monitord itself is pid 1.
    @Test(arguments: Identity.allCases)
    func processesStartedByMonitordOrItsChildNeverMatch(identity: Identity) throws {
        let root = ALSATestRig.makeDirectory("stale-parents")
        let fm = FileManager.default
        defer { try? fm.removeItem(at: root) }
        func entry(_ pid: Int32, parent: Int32) throws {
            let directory = root.appendingPathComponent("\(pid)")
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            try (["squeezelite"] + identity.arguments).map { $0 + "\0" }.joined()
                .write(to: directory.appendingPathComponent("cmdline"), atomically: true, encoding: .utf8)
            try "Name:\tsqueezelite\nState:\tS (sleeping)\nPPid:\t\(parent)\nUid:\t1000\t1000\t1000\t1000\n"
                .write(to: directory.appendingPathComponent("status"), atomically: true, encoding: .utf8)
            try fm.createSymbolicLink(atPath: directory.appendingPathComponent("exe").path, withDestinationPath: "/usr/bin/squeezelite")
        }
        try entry(20, parent: 1)      // an orphan: stale
        try entry(21, parent: 500)    // forked by monitord (500)
        try entry(22, parent: 501)    // forked by monitord's child (501)
        try entry(23, parent: 777)    // somebody else's: stale
        let rule = identity.rule(executable: "/usr/bin/squeezelite", uid: 1000, excluded: [500, 501])
        #expect(StalePlayers.find(rule, procRoot: root.path) == [20, 23])
        #expect(!StalePlayers.verify(pid: 21, rule: rule, procRoot: root.path))
        let asInit = identity.rule(executable: "/usr/bin/squeezelite", uid: 1000, excluded: [1, 501])
        #expect(StalePlayers.find(asInit, procRoot: root.path) == [20, 21, 23])
    }

    /// A fake /proc where each broken entry would otherwise match: a missing
    /// or unreadable status or cmdline, no Uid line, a malformed uid, a pid
    /// "directory" that is a file. Only the intact control entry is found.
    @Test(arguments: Identity.allCases)
    func unreadableEntriesNeverMatch(identity: Identity) throws {
        let root = ALSATestRig.makeDirectory("stale-unreadable")
        let fm = FileManager.default
        defer { try? fm.removeItem(at: root) }
        let argv = ["squeezelite"] + identity.arguments
        func entry(_ pid: Int32, cmdline: String?? = .some(nil), status: String?? = .some(nil), exe: Bool = true) throws {
            let directory = root.appendingPathComponent("\(pid)")
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            let cmdlinePath = directory.appendingPathComponent("cmdline")
            switch cmdline {
            case .none: break  // missing
            case .some(.none): try argv.map { $0 + "\0" }.joined().write(to: cmdlinePath, atomically: true, encoding: .utf8)
            case .some(.some(let text)) where text == "<dir>": try fm.createDirectory(at: cmdlinePath, withIntermediateDirectories: true)
            case .some(.some(let text)): try text.write(to: cmdlinePath, atomically: true, encoding: .utf8)
            }
            let statusPath = directory.appendingPathComponent("status")
            switch status {
            case .none: break
            case .some(.none): try "Name:\tsqueezelite\nState:\tS (sleeping)\nUid:\t1000\t1000\t1000\t1000\n".write(to: statusPath, atomically: true, encoding: .utf8)
            case .some(.some(let text)) where text == "<dir>": try fm.createDirectory(at: statusPath, withIntermediateDirectories: true)
            case .some(.some(let text)): try text.write(to: statusPath, atomically: true, encoding: .utf8)
            }
            if exe {
                try fm.createSymbolicLink(atPath: directory.appendingPathComponent("exe").path, withDestinationPath: "/usr/bin/squeezelite")
            }
        }
        try entry(10)                                        // control: intact, matches
        try entry(11, cmdline: .none)                        // cmdline missing (process gone mid-scan)
        try entry(12, cmdline: "<dir>")                      // cmdline unreadable (read fails)
        try entry(13, status: .none)                         // status missing
        try entry(14, status: "<dir>")                       // status unreadable
        try entry(15, status: "Name:\tsqueezelite\nState:\tS (sleeping)\n")            // no Uid line
        try entry(16, status: "Name:\tsqueezelite\nState:\tS (sleeping)\nUid:\tx\t1000\n") // malformed uid
        try entry(17, cmdline: "", status: .some(nil))      // empty cmdline (kernel thread, zombie)
        try "not a directory".write(to: root.appendingPathComponent("18"), atomically: true, encoding: .utf8)
        try fm.createDirectory(at: root.appendingPathComponent("self"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("019"), withIntermediateDirectories: true)

        let rule = identity.rule(executable: "/usr/bin/squeezelite", uid: 1000, excluded: [])
        #expect(StalePlayers.find(rule, procRoot: root.path) == [10])
        for pid: Int32 in 11...19 {
            #expect(!StalePlayers.verify(pid: pid, rule: rule, procRoot: root.path), "pid \(pid)")
        }
        #expect(StalePlayers.verify(pid: 10, rule: rule, procRoot: root.path))
        // A procRoot that cannot be listed finds nothing.
        #expect(StalePlayers.find(rule, procRoot: root.path + "/missing").isEmpty)
    }

    // MARK: Real processes

    /// A shell copied under the name `squeezelite`, idling with `-o lb73c`.
    final class Player {
        let child: SpawnedChild
        var pid: Int32 { child.pid }

        init(_ binary: String, script: String, arguments: [String]) throws {
            child = try SpawnedChild([binary, "-c", script] + arguments, environment: ProcessInfo.processInfo.environment,
                                     stdout: "/dev/null", stderr: "/dev/null")
        }

        /// SIGKILLs and reaps it, once: later calls signal nothing.
        func end() { child.end() }
    }

    static func squeezelite(_ label: String) throws -> String {
        let directory = ALSATestRig.makeDirectory("stale-safety-\(label)").appendingPathComponent("bin").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/squeezelite"
        try copyExecutable(URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path, to: path)
        return path
    }

    static func commandLine(_ pid: Int32) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The rule as monitord builds it for `binary` (COMMAND resolved to it).
    static func rule(_ identity: Identity, _ binary: String) -> StalePlayerRule {
        identity.rule(executable: canonical(binary), uid: getuid(), excluded: [monitordStandIn])
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// monitord passes itself and its child as excluded: an otherwise exact
    /// match is then neither found nor verified.
    @Test(arguments: Identity.allCases)
    func monitordAndItsChildAreExcluded(identity: Identity) throws {
        let binary = try Self.squeezelite("excluded")
        let player = try Player(binary, script: "while :; do sleep 0.05; done", arguments: identity.arguments)
        defer { player.end() }
        #expect(eventually { Self.commandLine(player.pid).last == Self.device })
        #expect(StalePlayers.find(Self.rule(identity, binary)).contains(player.pid), "control: it matches when not excluded")
        var rule = Self.rule(identity, binary)
        rule.excluded = [monitordStandIn, player.pid]
        #expect(!StalePlayers.find(rule).contains(player.pid))
        #expect(!StalePlayers.verify(pid: player.pid, rule: rule))
        #expect(!StalePlayers.verify(pid: getpid(), rule: rule))
    }

    /// Between the scan and the signal the process may exit: once it is gone
    /// (reaped) verify is false.
    @Test(arguments: Identity.allCases)
    func verifyIsFalseForAnExitedProcess(identity: Identity) throws {
        let binary = try Self.squeezelite("exited")
        let player = try Player(binary, script: "while :; do sleep 0.05; done", arguments: identity.arguments)
        #expect(eventually { Self.commandLine(player.pid).last == Self.device })
        #expect(StalePlayers.verify(pid: player.pid, rule: Self.rule(identity, binary)))
        player.end()
        #expect(!StalePlayers.verify(pid: player.pid, rule: Self.rule(identity, binary)))
        #expect(!StalePlayers.find(Self.rule(identity, binary)).contains(player.pid))
    }

    /// An exited but unreaped player (a zombie) holds nothing and is not verified.
    @Test(arguments: Identity.allCases)
    func verifyIsFalseForAZombie(identity: Identity) throws {
        let binary = try Self.squeezelite("zombie")
        let player = try Player(binary, script: "exit 0", arguments: identity.arguments)
        defer { player.end() }
        #expect(eventually { Self.stateOf(player.pid) == "Z" })
        #expect(!StalePlayers.verify(pid: player.pid, rule: Self.rule(identity, binary)))
        #expect(!StalePlayers.find(Self.rule(identity, binary)).contains(player.pid))
    }

    static func stateOf(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].first
    }

    /// The pid pinned by a pidfd now runs another program (the same process
    /// exec'd): what the re-verification after pinning must catch.
    @Test(arguments: Identity.allCases)
    func verifyIsFalseOnceThePinnedProcessRunsSomethingElse(identity: Identity) throws {
        let binary = try Self.squeezelite("execd")
        // The trap must be set before USR1 is sent (its default would end the shell).
        let ready = ALSATestRig.makeDirectory("stale-safety-ready").appendingPathComponent("ready").path
        let player = try Player(binary, script: "trap 'exec sleep 1000' USR1; touch '\(ready)'; while :; do sleep 0.05; done",
                                arguments: identity.arguments)
        defer { player.end() }
        #expect(eventually { FileManager.default.fileExists(atPath: ready) })
        #expect(Self.commandLine(player.pid).last == Self.device)
        let pidfd = ksh_pidfd_open(player.pid)
        #expect(pidfd >= 0)
        defer { close(pidfd) }
        #expect(StalePlayers.verify(pid: player.pid, rule: Self.rule(identity, binary)))
        #expect(player.child.signal(SIGUSR1))
        #expect(eventually { Self.commandLine(player.pid).first == "sleep" })
        #expect(!StalePlayers.verify(pid: player.pid, rule: Self.rule(identity, binary)))
        #expect(ksh_pidfd_send_signal(pidfd, 0) == 0, "the pidfd still names the same, live process")
    }

    /// Real pid reuse: the player exits, and a different program is made to
    /// get the same pid (through ns_last_pid, root only). verify must say no.
    @Test(.rootOnly(RootOnly.isRoot && access("/proc/sys/kernel/ns_last_pid", W_OK) == 0,
                    "needs root to write /proc/sys/kernel/ns_last_pid"), arguments: Identity.allCases)
    func verifyIsFalseForAReusedPid(identity: Identity) throws {
        let binary = try Self.squeezelite("reused")
        let player = try Player(binary, script: "while :; do sleep 0.05; done", arguments: identity.arguments)
        #expect(eventually { Self.commandLine(player.pid).last == Self.device })
        let pid = player.pid
        #expect(StalePlayers.verify(pid: pid, rule: Self.rule(identity, binary)))
        player.end()
        var successor: Player?
        // Other tests fork concurrently and may take the pid first: retry.
        for _ in 0..<200 where successor == nil {
            let fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY)
            guard fd >= 0 else { break }
            let text = Array("\(pid - 1)".utf8)
            _ = write(fd, text, text.count)
            close(fd)
            let candidate = try Player("/bin/sh", script: "exec sleep 1000", arguments: ["-o", "unrelated"])
            if candidate.pid == pid { successor = candidate } else { candidate.end() }
        }
        let reused = try #require(successor, "could not get pid \(pid) again")
        defer { reused.end() }
        #expect(eventually { Self.commandLine(pid).first == "sleep" })
        #expect(!StalePlayers.verify(pid: pid, rule: Self.rule(identity, binary)))
        #expect(!StalePlayers.find(Self.rule(identity, binary)).contains(pid))
    }
}
