import Foundation
import Glibc
import Testing
import TestSupport

/// A unix datagram socket standing in for systemd's notify socket.
final class NotifyListener: @unchecked Sendable {
    let fd: Int32
    /// The NOTIFY_SOCKET value: a path, or `@name` for an abstract socket.
    let address: String
    private(set) var messages: [String] = []

    init(abstract: Bool, scratch: Scratch) {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0)
        var name = sockaddr_un()
        name.sun_family = sa_family_t(AF_UNIX)
        let text = abstract ? "monitord-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : scratch.file("notify")
        address = abstract ? "@" + text : text
        let bytes = Array(text.utf8)
        let length = withUnsafeMutableBytes(of: &name.sun_path) { raw -> Int in
            let offset = abstract ? 1 : 0   // abstract: a leading NUL
            raw[0] = 0
            for (index, byte) in bytes.enumerated() { raw[offset + index] = byte }
            return offset + bytes.count
        }
        let size = socklen_t(MemoryLayout<sa_family_t>.size + length + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        precondition(bound == 0, "bind failed: \(errno)")
    }

    deinit { close(fd) }

    /// Reads whatever arrived (non-blocking).
    func drain() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n <= 0 { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return messages
    }

    func waitFor(_ predicate: @escaping ([String]) -> Bool, timeout: Duration = .seconds(10)) -> Bool {
        eventually(timeout: timeout) { predicate(self.drain()) }
    }
}

/// Reads one status-file line: pairs split at spaces, each at its first
/// `=`, `%XX` decoded (the format StatusFile documents).
enum StatusLine {
    static func pairs(_ line: String) -> [(String, String)]? {
        guard line.hasSuffix("\n") else { return nil }
        var pairs: [(String, String)] = []
        for pair in line.dropLast().split(separator: " ", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            guard let value = String(pair[pair.index(after: equals)...]).removingPercentEncoding else { return nil }
            pairs.append((String(pair[..<equals]), value))
        }
        return pairs
    }
}

@Suite struct ServiceManagerTests {
    @Test(arguments: [false, true])
    func notifiesReadyStatusStoppingAndWatchdog(abstract: Bool) throws {
        let scratch = Scratch()
        let listener = NotifyListener(abstract: abstract, scratch: scratch)
        let child = scratch.script("child.sh", """
        env > "\(scratch.file("child-env"))"
        sleep 0.3
        exit 3
        """)
        // WATCHDOG_USEC=400ms asks for a ping every 200 ms.
        let monitord = try Monitord(["--backoff-initial", "200ms", child], scratch: scratch,
                                    environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"])
        #expect(listener.waitFor { $0.contains { $0.hasPrefix("STATUS=restarting in") } })
        #expect(listener.waitFor { $0.filter { $0 == "WATCHDOG=1" }.count >= 5 })
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let messages = listener.drain()
        let ready = try #require(messages.firstIndex(of: "READY=1"))
        let running = try #require(messages.firstIndex { $0.hasPrefix("STATUS=running child.sh (pid ") })
        let backoff = try #require(messages.firstIndex { $0.hasPrefix("STATUS=restarting in") && $0.contains("after exit 3") })
        let stopping = try #require(messages.firstIndex(of: "STOPPING=1"))
        #expect(ready < backoff && running < backoff && backoff < stopping)
        #expect(messages.filter { $0 == "READY=1" }.count == 1)
        // The child must not think it is the notifying service.
        let environment = scratch.read("child-env")
        #expect(!environment.contains("NOTIFY_SOCKET"))
        #expect(!environment.contains("WATCHDOG_USEC"))
    }

    /// READY=1 comes when supervision starts, not after the gate: a device
    /// held for minutes must not hold systemd's start job (docs/systemd.md).
    /// While the gate waits, STATUS= says so; the child starts once the
    /// device opens, and READY=1 is never sent again.
    @Test(.needsTestPlugin) func readyComesBeforeTheGateAndStatusCarriesTheWait() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EBUSY")
        let listener = NotifyListener(abstract: false, scratch: scratch)
        var environment = card.environment
        environment["NOTIFY_SOCKET"] = listener.address
        let player = scratch.script("player.sh", """
        echo started >> "\(scratch.file("player-starts"))"
        exec sleep 1000
        """)
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "100ms",
                                     "--probe-interval", "200ms", "--alsa-device", "lb0c", "--stale-after", "1000",
                                     "--", player], scratch: scratch, environment: environment)
        // Every wait drains the socket, as systemd does: a full datagram
        // queue would drop monitord's messages.
        #expect(listener.waitFor { $0.contains("READY=1") })
        #expect(listener.waitFor { $0.contains { $0.hasPrefix("STATUS=waiting for lb0c: EBUSY (3 failed probes)") } })
        #expect(scratch.lines("player-starts").isEmpty)
        #expect(monitord.count("started ") == 0)

        card.set("lb0c", "ok")
        #expect(listener.waitFor { _ in scratch.lines("player-starts").count == 1 })
        #expect(listener.waitFor { $0.contains { $0.hasPrefix("STATUS=running player.sh (pid ") } }, "\(listener.drain())")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let messages = listener.drain()
        let ready = try #require(messages.firstIndex(of: "READY=1"))
        let waiting = try #require(messages.firstIndex { $0.hasPrefix("STATUS=waiting for lb0c: ") })
        let running = try #require(messages.firstIndex { $0.hasPrefix("STATUS=running player.sh (pid ") })
        #expect(ready < waiting && waiting < running, "\(messages)")
        #expect(messages.filter { $0 == "READY=1" }.count == 1)
    }

    @Test func watchdogPingsAtHalfThePeriod() throws {
        let scratch = Scratch()
        let listener = NotifyListener(abstract: false, scratch: scratch)
        let monitord = try Monitord(["sleep", "1000"], scratch: scratch,
                                    environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"])
        #expect(listener.waitFor { $0.contains("READY=1") })
        let start = ContinuousClock.now
        usleep(2_600_000)
        let elapsed = ContinuousClock.now - start
        let pings = listener.drain().filter { $0 == "WATCHDOG=1" }.count
        // Every 500 ms: about 5 in 2.6 s. Bounds are loose on purpose.
        let expected = Int(elapsed / .milliseconds(500))
        #expect(pings >= 3 && pings <= expected + 1, "\(pings) pings in \(elapsed)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test func withoutNotifySocketNothingIsSentAndNothingFails() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["sh", "-c", "exit 0"], scratch: scratch)
        #expect(monitord.wait() == .exited(0))
        #expect(!monitord.log.contains("sd_notify"))
    }

    @Test(arguments: ["/nonexistent/dir/notify", "relative/notify", "/" + String(repeating: "x", count: 200), "@"])
    func aBadNotifySocketIsOneWarningAndSupervisionGoesOn(value: String) throws {
        let scratch = Scratch()
        let monitord = try Monitord(["--backoff-initial", "50ms", "sh", "-c", "exit 1"], scratch: scratch,
                                    environment: ["NOTIFY_SOCKET": value])
        #expect(monitord.waitForLog("started sh", count: 3))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(monitord.count("sd_notify disabled") == 1, "\(monitord.log)")
    }

    @Test func statusFileIsAlwaysParseableAndEndsStopped() throws {
        let scratch = Scratch()
        let path = scratch.file("status")
        let monitord = try Monitord(["--status-file", path, "--backoff-initial", "10ms", "--backoff-max", "20ms",
                                     "sh", "-c", "exit 4"], scratch: scratch)
        var reads = 0
        var states: Set<String> = []
        let clock = ContinuousClock()
        let end = clock.now + .seconds(2)
        while clock.now < end {
            guard let line = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            reads += 1
            #expect(line.hasSuffix("\n") && line.filter { $0 == "\n" }.count == 1, "torn: \(line)")
            let pairs = line.dropLast().split(separator: " ").map { $0.split(separator: "=", maxSplits: 1) }
            #expect(pairs.allSatisfy { $0.count == 2 }, "unparseable: \(line)")
            if let state = pairs.first(where: { $0.first == "state" })?.last { states.insert(String(state)) }
        }
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(reads > 50)
        #expect(states.isSuperset(of: ["running", "backing-off"]), "\(states)")
        let final = try String(contentsOfFile: path, encoding: .utf8)
        #expect(final.hasPrefix("state=stopped "))
        #expect(final.contains("last_exit=exit:4"))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    /// `summary=` is the STATUS= sentence of the same state: waiting for a
    /// held device, then running. Long probe waits keep each state still
    /// while both are read; the holder's exit wakes the gate.
    @Test(.needsTestPlugin) func statusFileSummaryIsTheStatusSentence() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        let holder = try card.startPlayer(named: "other-app", arguments: ["-o", "lb0c"], logName: "holder")
        defer { holder.end() }
        #expect(eventually { card.isHeld(card: 0) })
        let listener = NotifyListener(abstract: false, scratch: scratch)
        let path = scratch.file("status")
        let monitord = try Monitord(["--status-file", path, "--snd-dir", card.soundDirectory, "--probe-retry", "1m",
                                     "--probe-interval", "1m", "--stale-after", "1000", "--alsa-device", "lb0c", "sleep", "1000"],
                                    scratch: scratch, environment: card.environment.merging(["NOTIFY_SOCKET": listener.address]) { $1 })
        func summary() -> String? {
            guard let line = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return StatusLine.pairs(line)?.last { $0.0 == "summary" }?.1
        }
        func lastStatus() -> String? {
            listener.drain().last { $0.hasPrefix("STATUS=") }.map { String($0.dropFirst("STATUS=".count)) }
        }
        // The sentence's wording belongs to StatusReport (and its unit tests):
        // here only that both carry the same one, naming device and holder.
        #expect(eventually {
            guard let status = lastStatus(), status.hasPrefix("waiting for lb0c: EBUSY") else { return false }
            return status.contains("pid \(holder) other-app") && summary() == status
        }, "\(lastStatus() ?? "-") / \(summary() ?? "-")")
        holder.signal(SIGTERM)
        #expect(holder.wait() == .exited(0))
        let child = try #require(monitord.firstStartedPID())
        let running = "running sleep (pid \(child)), 0 restarts"
        #expect(eventually { lastStatus() == running && summary() == running }, "\(lastStatus() ?? "-") / \(summary() ?? "-")")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let final = try String(contentsOfFile: path, encoding: .utf8)
        #expect(final.hasPrefix("state=stopped ") && summary() != nil, "\(final)")
    }

    @Test(.needsTestPlugin) func statusFileNamesTheGateWait() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EBUSY")
        let path = scratch.file("status")
        let monitord = try Monitord(["--status-file", path, "--snd-dir", card.soundDirectory, "--probe-interval", "100ms",
                                     "--stale-after", "1000", "--alsa-device", "lb0c", "sleep", "1000"],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("state=waiting-for-device") })
        let line = try String(contentsOfFile: path, encoding: .utf8)
        #expect(line.contains("gate_device=lb0c"))
        #expect(line.contains("gate_reason=open:%20EBUSY"), "\(line)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}
