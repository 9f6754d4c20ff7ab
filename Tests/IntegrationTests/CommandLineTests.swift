import Foundation
import Glibc
import Testing
import TestSupport

/// Exit codes and one-line messages for what cannot run at all.
@Suite struct CommandLineTests {
    @Test(.notEmulated(.vforkIsAFork)) func missingCommandExits127() throws {
        let scratch = Scratch()
        let (status, stderr) = try runToCompletion([Products.monitord, "no-such-command-xyz"], scratch: scratch)
        #expect(status == .exited(127))
        #expect(stderr.contains("cannot execute 'no-such-command-xyz': No such file or directory"))
        #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
    }

    @Test(.notEmulated(.vforkIsAFork)) func nonExecutableCommandExits126() throws {
        let scratch = Scratch()
        let path = scratch.file("not-executable")
        _ = FileManager.default.createFile(atPath: path, contents: Data("echo hi\n".utf8), attributes: [.posixPermissions: 0o644])
        let (status, stderr) = try runToCompletion([Products.monitord, path], scratch: scratch)
        #expect(status == .exited(126))
        #expect(stderr.contains("cannot execute '\(path)': Permission denied"))
    }

    @Test(arguments: [
        (["--backoff-max", "banana", "true"], "monitord: --backoff-max 'banana': not a duration"),
        (["--backoff-initial", "-2s", "true"], "monitord: --backoff-initial '-2s': a duration cannot be negative"),
        (["--backoff-initial", "1m", "--backoff-max", "30s", "true"], "is longer than --backoff-max"),
        (["--frobnicate", "true"], "monitord: unknown option '--frobnicate'"),
        ([], "monitord: missing COMMAND"),
        (["--stop-timeout", "99999999999999999999s", "true"], "too long"),
    ])
    func usageErrorsExit64WithOneLine(arguments: [String], message: String) throws {
        let scratch = Scratch()
        let (status, stderr) = try runToCompletion([Products.monitord] + arguments, scratch: scratch)
        #expect(status == .exited(64))
        #expect(stderr.contains(message), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
    }

    @Test func helpDocumentsExitCodes() throws {
        let scratch = Scratch()
        let (status, _) = try runToCompletion([Products.monitord, "--help"], scratch: scratch)
        #expect(status == .exited(0))
        let help = scratch.read("run.out")
        for fragment in ["--backoff-initial", "--stop-timeout", "64", "70", "126", "127"] {
            #expect(help.contains(fragment))
        }
    }

    @Test func optionsAfterTheCommandBelongToTheCommand() throws {
        let scratch = Scratch()
        // `--help` after COMMAND goes to sh, which prints its argument and exits 0.
        let (status, stderr) = try runToCompletion([Products.monitord, "sh", "-c", "echo \"$0\" >&2", "--help"], scratch: scratch)
        #expect(status == .exited(0))
        #expect(stderr.contains("--help"))
    }

    @Test func journalStreamGetsPriorityPrefixes() throws {
        let scratch = Scratch()
        let logPath = scratch.file("journal.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        var info = stat()
        #expect(stat(logPath, &info) == 0)
        // As systemd does: JOURNAL_STREAM names stderr's device and inode.
        let monitord = try Monitord(["--backoff-initial", "50ms", "sh", "-c", "exit 1"], scratch: scratch,
                                    environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"], logName: "journal.log")
        #expect(monitord.waitForLog("started sh", count: 2))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let lines = monitord.logLines
        #expect(lines.contains { $0.hasPrefix("<6>started sh (pid ") })
        #expect(lines.contains { $0.hasPrefix("<4>sh (pid ") && $0.contains("exited 1") })
        #expect(lines.allSatisfy { $0.hasPrefix("<") && !$0.contains("monitord[") }, "\(lines)")
    }

    @Test func aForeignJournalStreamIsIgnored() throws {
        let scratch = Scratch()
        // A JOURNAL_STREAM inherited from elsewhere does not describe our stderr.
        let monitord = try Monitord(["sh", "-c", "exit 0"], scratch: scratch, environment: ["JOURNAL_STREAM": "8:12345"])
        #expect(monitord.wait() == .exited(0))
        #expect(monitord.logLines.allSatisfy { $0.hasPrefix("monitord[") }, "\(monitord.log)")
    }
}
