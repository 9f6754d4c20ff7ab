import Foundation
import Glibc
import Reactor
import Testing
import TestSupport

/// PinnedProcess against real processes: children of the test process (so
/// the test decides when they are reaped), running `sleep` or `true`.
@Suite struct PinnedProcessTests {
    static func sleeper() throws -> Int32 {
        try spawnProcess(["/bin/sleep", "60"], environment: [:], stdout: "/dev/null", stderr: "/dev/null")
    }

    /// A running `sleep` child, pinned; nil, with the issue recorded and the
    /// child ended, when it cannot be pinned.
    static func pinnedSleeper() throws -> PinnedProcess? {
        let pid = try sleeper()
        if let pinned = try PinnedProcess.pin(pid) { return pinned }
        Issue.record("a running child could not be pinned")
        kill(pid, SIGKILL)
        _ = waitForExit(pid)
        return nil
    }

    /// Whether the pidfd is readable within `milliseconds`: the process exited.
    static func readable(_ fd: Int32, within milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) == 1 && descriptor.revents & Int16(POLLIN) != 0
    }

    /// The pid a descriptor of this process is a pidfd for, from
    /// /proc/self/fdinfo (its `Pid:` line); nil when the descriptor is closed
    /// or is no pidfd.
    static func pidfdTarget(_ fd: Int32) -> Int32? {
        guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
        for line in info.split(separator: "\n") where line.hasPrefix("Pid:") {
            return Int32(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    @Test func signalReachesThePinnedProcessAndItsDescriptorReportsTheExit() throws {
        guard let pinned = try Self.pinnedSleeper() else { return }
        let pid = pinned.pid
        #expect(pinned.pid == pid)
        #expect(Self.pidfdTarget(pinned.fd) == pid, "fd is a pidfd for the child")
        #expect(!Self.readable(pinned.fd, within: 0), "not readable while it runs")
        #expect(try pinned.signal(SIGTERM))
        #expect(Self.readable(pinned.fd, within: 10_000), "readable once it has exited")
        #expect(waitForExit(pid) == .signaled(SIGTERM))
    }

    @Test func aProcessThatExitedAndWasReapedCannotBePinned() throws {
        let pid = try spawnProcess(["/bin/true"], environment: [:], stdout: "/dev/null", stderr: "/dev/null")
        #expect(waitForExit(pid) == .exited(0))
        let pinnedPID = try PinnedProcess.pin(pid)?.pid
        #expect(pinnedPID == nil)
    }

    @Test func signallingAfterTheReapIsFalseNotAnError() throws {
        guard let pinned = try Self.pinnedSleeper() else { return }
        let pid = pinned.pid
        #expect(kill(pid, SIGKILL) == 0)
        #expect(waitForExit(pid) == .signaled(SIGKILL))
        // The pid may belong to a new process by now; the pidfd still names
        // the reaped one, so nothing is sent and nothing is thrown.
        #expect(try pinned.signal(SIGTERM) == false)
        #expect(try pinned.signal(0) == false)
    }

    /// Failures other than "no such process" are errors, named by the call.
    @Test func anInvalidPidIsAnError() {
        #expect(throws: SystemError("pidfd_open", errno: EINVAL)) {
            _ = try PinnedProcess.pin(-1)
        }
    }

    /// Dropping the value closes the pidfd: afterwards the descriptor number
    /// is closed, or reused by something that is no pidfd for this process.
    @Test func droppingThePinnedProcessClosesItsPidfd() throws {
        let sleeper = SpawnedChild(pid: try Self.sleeper())
        defer { sleeper.end() }
        let pid = sleeper.pid
        func pinAndDrop() throws -> Int32? {
            guard let pinned = try PinnedProcess.pin(pid) else { return nil }
            #expect(Self.pidfdTarget(pinned.fd) == pid)
            return pinned.fd
        }
        let fd = try #require(try pinAndDrop())
        #expect(Self.pidfdTarget(fd) != pid)
    }
}
