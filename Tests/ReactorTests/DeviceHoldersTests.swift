import Foundation
import Glibc
import Testing
import Presentation
import Reactor
import TestSupport

@Suite struct DeviceHoldersTests {
    /// A /proc-shaped tree whose fd links point wherever the test says.
    /// readlink does not care whether the target exists.
    struct FakeProc {
        let root: URL

        init() {
            root = ALSATestRig.makeDirectory("fakeproc")
        }

        func process(_ pid: Int32, commandLine: [String], fds: [Int: String]?) {
            let directory = root.appendingPathComponent("\(pid)")
            try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let cmdline = commandLine.map { $0 + "\0" }.joined()
            try! cmdline.write(to: directory.appendingPathComponent("cmdline"), atomically: true, encoding: .utf8)
            guard let fds else { return }
            let fdDirectory = directory.appendingPathComponent("fd")
            try! FileManager.default.createDirectory(at: fdDirectory, withIntermediateDirectories: true)
            for (fd, target) in fds {
                try! FileManager.default.createSymbolicLink(atPath: fdDirectory.appendingPathComponent("\(fd)").path, withDestinationPath: target)
            }
        }
    }

    @Test func namesHoldersAndTheirDevicesFromFdLinks() {
        let proc = FakeProc()
        proc.process(100, commandLine: ["/usr/bin/squeezelite", "-o", "lb0c"],
                     fds: [0: "/dev/null", 3: "/fake/snd/pcmC0D0p", 4: "/fake/snd/controlC0", 5: "/fake/snd/pcmC0D0p"])
        proc.process(200, commandLine: ["bash"], fds: [0: "/dev/null", 1: "pipe:[1234]", 2: "/fake/sndx/pcmC9D0p"])
        proc.process(300, commandLine: ["gone"], fds: nil) // exited during the scan: no fd directory
        proc.process(400, commandLine: ["monitord"], fds: [7: "/fake/snd/pcmC0D0p"])
        proc.process(500, commandLine: ["alsaloop", "-C", "lb3p"], fds: [9: "/fake/snd/pcmC1D0c (deleted)"])
        try! FileManager.default.createDirectory(at: proc.root.appendingPathComponent("self"), withIntermediateDirectories: true)

        let scan = DeviceHolders.scan(procRoot: proc.root.path, deviceDirectory: "/fake/snd/", excluding: [400])

        #expect(scan == HolderScan(holders: [
            DeviceHolder(pid: 100, commandLine: ["/usr/bin/squeezelite", "-o", "lb0c"],
                         devices: ["/fake/snd/controlC0", "/fake/snd/pcmC0D0p"]),
            DeviceHolder(pid: 500, commandLine: ["alsaloop", "-C", "lb3p"],
                         devices: ["/fake/snd/pcmC1D0c (deleted)"]),
        ], unreadableProcesses: 0))
    }

    @Test func emptyWhenNothingHoldsTheDirectory() {
        let proc = FakeProc()
        proc.process(100, commandLine: ["sleep", "1"], fds: [0: "/dev/null"])
        #expect(DeviceHolders.scan(procRoot: proc.root.path, deviceDirectory: "/fake/snd") == HolderScan(holders: [], unreadableProcesses: 0))
    }

    @Test func anUnreadableProcRootIsAFailureNotAnEmptyList() {
        // With no descriptor left (EMFILE) or no /proc, an empty list proves nothing.
        let scan = DeviceHolders.scan(procRoot: "/nonexistent/proc", deviceDirectory: "/fake/snd")
        #expect(scan.holders.isEmpty)
        #expect(scan.failure == ENOENT)
    }

    @Test(.enabled(if: ALSATestRig.productsAvailable))
    func findsARealPlayerHoldingTheFakeDevice() throws {
        let card = ALSATestRig.card("holders")
        let snd = card.soundDirectory
        let player = try PlayerProcess.launch(ALSATestRig.holderPath, ["-n", "Kitchen", "-o", "lb0c"], environment: card.childEnvironment)

        let started = monotonicSeconds()
        let scan = DeviceHolders.scan(deviceDirectory: snd)
        let elapsed = monotonicSeconds() - started
        #expect(scan.holders == [DeviceHolder(pid: player.pid, commandLine: [ALSATestRig.holderPath, "-n", "Kitchen", "-o", "lb0c"],
                                              devices: ["\(snd)/pcmC0D0p"])])
        #expect(elapsed < 0.5)
        #expect(DeviceHolders.scan(deviceDirectory: snd, excluding: [player.pid]).holders.isEmpty)
        print("DeviceHolders: scanned /proc in \(String(format: "%.2f", elapsed * 1000)) ms, \(scan.unreadableProcesses) unreadable")

        player.kill(SIGTERM)
        #expect(player.waitForExit(timeout: .seconds(5)) == .exited(0))
        #expect(DeviceHolders.scan(deviceDirectory: snd).holders.isEmpty)
    }
}
