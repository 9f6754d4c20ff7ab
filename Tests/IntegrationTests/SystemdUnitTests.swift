import Foundation
import Presentation
import Reactor
import Testing
import TestSupport

/// `systemd-analyze verify` over the shipped units in contrib/systemd.
///
/// verify refuses a unit whose ExecStart binary does not exist, and
/// /usr/local/bin/monitord is not installed on a build machine. So each unit
/// is copied to a temporary directory with only that path rewritten to a
/// stand-in executable created there; every other line is verified as
/// shipped. (The supervised command, squeezelite or alsaloop, is an argument
/// as far as systemd is concerned, and is not checked.) The copy is named
/// with an instance (`@3`) so `%i` expands the way it will on a device.
///
/// verify exits 0 even when it ignores an unknown or malformed setting, so
/// any diagnostic output at all fails the test: a typo in a hardening line
/// would otherwise silently drop that protection.
@Suite struct SystemdUnitTests {
    static let analyzer = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let unitDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("contrib/systemd")

    static let units = ["monitord-squeezelite@.service", "monitord-alsaloop@.service"]

    @Test(.enabled(if: analyzer != nil, "systemd-analyze is not installed: apt-get install systemd"),
          arguments: units)
    func unitVerifiesCleanly(unit: String) throws {
        let shipped = try String(contentsOf: Self.unitDirectory.appendingPathComponent(unit), encoding: .utf8)
        #expect(shipped.contains("ExecStart=/usr/local/bin/monitord "))

        let directory = TemporaryFiles.makeDirectory("unit")
        defer { TemporaryFiles.remove(directory) }
        let scratch = URL(fileURLWithPath: directory)
        let standIn = scratch.appendingPathComponent("monitord")
        try "#!/bin/sh\nexit 0\n".write(to: standIn, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: standIn.path)

        let instance = scratch.appendingPathComponent(unit.replacingOccurrences(of: "@.", with: "@3."))
        // The squeezelite unit's ExecStartPre helper is verified as shipped, from contrib/systemd.
        try shipped.replacingOccurrences(of: "/usr/local/bin/monitord", with: standIn.path)
            .replacingOccurrences(of: "/usr/local/libexec/monitord/", with: Self.unitDirectory.path + "/")
            .write(to: instance, atomically: true, encoding: .utf8)

        // No pager, no colour, and no attempt to talk to a (missing) systemd manager.
        let run = try runCapturing([Self.analyzer!, "verify", "--man=no", instance.path],
                                   environment: ["PATH": "/usr/bin:/bin", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LANG": "C"])
        let output = run.stdout + run.stderr
        #expect(run.ended == .exited(0) && output.isEmpty, "systemd-analyze verify \(unit):\n\(output)")
    }

    @Test(arguments: units)
    func unitKeepsTheSettingsMonitordRelieOn(unit: String) throws {
        let text = try String(contentsOf: Self.unitDirectory.appendingPathComponent(unit), encoding: .utf8)
        let settings = Set(text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") })
        for required in ["Type=notify", "NotifyAccess=main", "KillMode=mixed", "Restart=on-failure",
                         "DevicePolicy=closed", "DeviceAllow=char-alsa rw", "SupplementaryGroups=audio",
                         "NoNewPrivileges=yes", "PrivateTmp=no"] {
            #expect(settings.contains(required), "\(unit) lacks \(required)")
        }
        #expect(settings.contains { $0.hasPrefix("WatchdogSec=") })
        #expect(settings.contains("Documentation=man:monitord(1)"), "\(unit) does not point at monitord's man page")
        // systemd's SIGKILL must come after monitord's own stop escalation.
        let stop = settings.first { $0.hasPrefix("TimeoutStopSec=") }
        let seconds = stop.flatMap { Int($0.dropFirst("TimeoutStopSec=".count).dropLast()) }
        #expect(Duration.seconds(seconds ?? 0) > OptionDefaults.stopTimeout,
                "TimeoutStopSec must exceed monitord's --stop-timeout (\(OptionDefaults.stopTimeout.commandLineText))")
    }
}
