import Foundation
import Glibc
import Testing
import TestSupport

/// What the player leaves in its process group when it exits: SIGTERM while
/// its zombie holds the group id, SIGKILL after --stop-timeout, and no new
/// player while any of them lives. The binary's side of `GroupLeftovers`,
/// whose cells GroupLeftoversTests drives on the fake clock.
@Suite struct LeftoverReaperTests {
    /// monitord over a player that forks a member of its group running
    /// `grandchild` (which touches `ready` once its traps are set), then
    /// exits 1; each start is stamped in `starts`.
    static func monitord(_ scratch: Scratch, grandchild: String, backoff: String, stopTimeout: String) throws -> Monitord {
        let player = scratch.script("player.sh", """
        date +%s%N >> "\(scratch.file("starts"))"
        rm -f "\(scratch.file("ready"))"
        sh -c '\(grandchild)' &
        while [ ! -e "\(scratch.file("ready"))" ]; do sleep 0.01; done
        exit 1
        """)
        return try Monitord(["--backoff-initial", backoff, "--backoff-max", backoff, "--stop-timeout", stopTimeout, player],
                            scratch: scratch)
    }

    /// Stops monitord as systemd does; it exits 0.
    static func stop(_ monitord: Monitord) {
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0), "\(monitord.log)")
    }

    @Test func aGrandchildThatTrapsTermRunsItsHandlerWhenThePlayerExits() throws {
        let scratch = Scratch()
        let monitord = try Self.monitord(scratch, grandchild: """
        trap "echo \\$\\$ >> \(scratch.file("handled")); exit 0" TERM; touch \(scratch.file("ready")); while :; do sleep 0.05; done
        """, backoff: "1m", stopTimeout: "30s")
        #expect(eventually { scratch.lines("handled").count == 1 }, "\(monitord.log)")
        // The handler ran, so the group is empty: the exit was handed on long before SIGKILL.
        #expect(monitord.waitForLog("exited 1 after"), "\(monitord.log)")
        #expect(!monitord.log.contains("sent SIGKILL"))
        Self.stop(monitord)
    }

    @Test func theNextPlayerStartsOnlyOnceTheLeftoversAreGone() throws {
        let scratch = Scratch()
        // The member takes 300 ms to close after SIGTERM, and stamps its end.
        let monitord = try Self.monitord(scratch, grandchild: """
        trap "sleep 0.3; date +%s%N >> \(scratch.file("ended")); exit 0" TERM; touch \(scratch.file("ready")); while :; do sleep 0.05; done
        """, backoff: "10ms", stopTimeout: "30s")
        #expect(eventually(timeout: .seconds(30)) { scratch.lines("starts").count >= 3 }, "\(monitord.log)")
        Self.stop(monitord)
        let starts = scratch.lines("starts").compactMap { Int64($0) }
        let ends = scratch.lines("ended").compactMap { Int64($0) }
        try #require(starts.count >= 3 && ends.count >= 2, "\(monitord.log)")
        // Each start after the first comes after the previous player's member ended.
        for index in 1..<min(starts.count, ends.count + 1) {
            #expect(starts[index] > ends[index - 1], "start \(index) before the member of start \(index - 1) ended")
        }
        // The member, and its `sleep` when the scan catches one running.
        #expect(monitord.log.contains("left a process in its group") || monitord.log.contains("left processes in its group"),
                "\(monitord.log)")
    }

    @Test func aMemberIgnoringTermIsKilledAfterTheStopTimeout() throws {
        let scratch = Scratch()
        let monitord = try Self.monitord(scratch, grandchild: """
        trap "" TERM; echo $$ > \(scratch.file("member")); touch \(scratch.file("ready")); exec sleep 1000
        """, backoff: "1m", stopTimeout: "300ms")
        #expect(monitord.waitForLog("exited 1 after"), "\(monitord.log)")
        let member = try #require(pid_t(scratch.read("member").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually(timeout: .seconds(5)) { !ProcessTable.isAlive(member) })
        let log = monitord.log
        let terminated = try #require(log.range(of: "left a process in its group (pid \(member)): sent SIGTERM"))
        let killed = try #require(log.range(of: "ignored SIGTERM for 300 ms: sent SIGKILL"))
        let exited = try #require(log.range(of: "exited 1 after"))
        #expect(terminated.lowerBound < killed.lowerBound && killed.lowerBound < exited.lowerBound)
        Self.stop(monitord)
    }

    /// A stop reaches the whole group at once (as systemd's default KillMode
    /// does): this player ends only after its member has handled SIGTERM, so
    /// with the member signalled after the player's exit it would wait for
    /// the stop timeout's SIGKILL instead.
    @Test func aStopReachesThePlayersGroupAtOnce() throws {
        let scratch = Scratch()
        let player = scratch.script("player.sh", """
        trap 'while [ ! -e "\(scratch.file("ended"))" ]; do sleep 0.01; done; exit 0' TERM
        sh -c 'trap "touch \(scratch.file("ended")); exit 0" TERM; touch \(scratch.file("ready")); while :; do sleep 0.05; done' &
        while :; do sleep 0.05; done
        """)
        let monitord = try Monitord(["--stop-timeout", "20s", player], scratch: scratch)
        #expect(scratch.waitUntilReady(), "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait(timeout: .seconds(15)) == .exited(0), "\(monitord.log)")
        #expect(FileManager.default.fileExists(atPath: scratch.file("ended")))
        #expect(!monitord.log.contains("did not stop within"), "\(monitord.log)")
    }
}
