import Testing
import Reactor

/// Which process a stale rule matches, a case per row: the `-o` identity
/// (the last `-o` value equals the device exactly), then the `--stale-match`
/// identity (whole argv elements, in any order), both on the executable
/// COMMAND resolves to, the same user, and a live process.
@Suite struct StaleMatchRuleTests {
    static let outputRule = StalePlayerRule(baseName: "squeezelite", device: "lb0c", uid: 1000, excluded: [])

    struct OutputCase: CustomTestStringConvertible, Sendable {
        var label: String
        var commandLine: [String]
        var executable: String? = "squeezelite"
        var uid: UInt32 = 1000
        var state: Character? = "S"
        var device: String = "lb0c"
        var expected: Bool
        var testDescription: String { label }
    }

    static let outputCases: [OutputCase] = [
        OutputCase(label: "exact -o VALUE", commandLine: ["/usr/bin/squeezelite", "-n", "Zone", "-m", "aa:bb", "-o", "lb0c", "-f", "/var/log/x"], expected: true),
        OutputCase(label: "joined -oVALUE", commandLine: ["squeezelite", "-olb0c"], expected: true),
        OutputCase(label: "exe unreadable", commandLine: ["squeezelite", "-o", "lb0c"], executable: nil, expected: true),
        OutputCase(label: "exe replaced on disk", commandLine: ["squeezelite", "-o", "lb0c"], executable: "squeezelite (deleted)", expected: true),
        OutputCase(label: "sleeping or running", commandLine: ["squeezelite", "-o", "lb0c"], state: "R", expected: true),
        OutputCase(label: "last -o wins", commandLine: ["squeezelite", "-o", "lb1c", "-o", "lb0c"], expected: true),

        OutputCase(label: "lb1c never matches lb11c", commandLine: ["squeezelite", "-o", "lb11c"], device: "lb1c", expected: false),
        OutputCase(label: "lb11c never matches lb1c", commandLine: ["squeezelite", "-o", "lb1c"], device: "lb11c", expected: false),
        OutputCase(label: "other device", commandLine: ["squeezelite", "-o", "lb1c"], expected: false),
        OutputCase(label: "-o=VALUE", commandLine: ["squeezelite", "-o=lb0c"], expected: false),
        OutputCase(label: "--output VALUE", commandLine: ["squeezelite", "--output", "lb0c"], expected: false),
        OutputCase(label: "value with suffix", commandLine: ["squeezelite", "-o", "lb0cx"], expected: false),
        OutputCase(label: "value as prefix", commandLine: ["squeezelite", "-o", "lb0"], expected: false),
        OutputCase(label: "-o without value", commandLine: ["squeezelite", "-o"], expected: false),
        OutputCase(label: "no -o", commandLine: ["squeezelite", "-n", "lb0c"], expected: false),
        OutputCase(label: "overridden by a later -o", commandLine: ["squeezelite", "-o", "lb0c", "-o", "lb1c"], expected: false),
        OutputCase(label: "after --", commandLine: ["squeezelite", "--", "-o", "lb0c"], expected: false),
        OutputCase(label: "device only in argv[0]", commandLine: ["-olb0c"], expected: false),
        OutputCase(label: "other program", commandLine: ["/usr/bin/aplay", "-o", "lb0c"], executable: "aplay", expected: false),
        OutputCase(label: "name as prefix", commandLine: ["/opt/squeezelite-ng", "-o", "lb0c"], executable: "squeezelite-ng", expected: false),
        OutputCase(label: "argv[0] spoofed, exe differs", commandLine: ["squeezelite", "-o", "lb0c"], executable: "python3", expected: false),
        OutputCase(label: "other user", commandLine: ["squeezelite", "-o", "lb0c"], uid: 0, expected: false),
        OutputCase(label: "zombie", commandLine: ["squeezelite", "-o", "lb0c"], state: "Z", expected: false),
        OutputCase(label: "kernel thread", commandLine: [], executable: nil, expected: false),
    ]

    @Test(arguments: outputCases)
    func outputDeviceIdentity(_ example: OutputCase) {
        var rule = Self.outputRule
        rule.device = example.device
        #expect(StalePlayers.matches(commandLine: example.commandLine, executable: example.executable,
                                     uid: example.uid, state: example.state, rule: rule) == example.expected)
    }

    @Test func ruleBaseNameMayBeAPath() {
        var rule = Self.outputRule
        rule.baseName = "/usr/bin/squeezelite"
        #expect(StalePlayers.matches(commandLine: ["squeezelite", "-o", "lb0c"], executable: "squeezelite", uid: 1000, state: "S", rule: rule))
    }

    static let shairportConf = "/home/pi/.config/amplipi/srcs/v2/shairport.conf"
    static let runvlc = "/home/pi/amplipi-dev/streams/runvlc.py"

    /// The two examples of --help and the man page (AirPlay, internet
    /// radio), as StaleRuleInForce builds them.
    static let shairport = StalePlayerRule(baseName: "shairport-sync", executable: "/usr/bin/shairport-sync", device: nil,
                                           arguments: [shairportConf], uid: 1000, excluded: [])
    static let radio = StalePlayerRule(baseName: "python3", executable: "/usr/bin/python3.11", device: nil,
                                       arguments: [runvlc, "ch2"], uid: 1000, excluded: [])

    struct ArgumentCase: CustomTestStringConvertible, Sendable {
        var label: String
        var rule: StalePlayerRule
        var commandLine: [String]
        var executable: String?
        var uid: UInt32 = 1000
        var state: Character? = "S"
        var expected: Bool
        var testDescription: String { label }
    }

    static let argumentCases: [ArgumentCase] = [
        // shairport-sync: the configuration file is the identity.
        ArgumentCase(label: "config file as an element", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", expected: true),
        ArgumentCase(label: "config file anywhere after argv[0]", rule: shairport,
             commandLine: ["/usr/bin/shairport-sync", "-v", "-c", shairportConf, "--", "-d", "x"], executable: "/usr/bin/shairport-sync", expected: true),
        ArgumentCase(label: "another zone's config file", rule: shairport,
             commandLine: ["shairport-sync", "-c", "/home/pi/.config/amplipi/srcs/v3/shairport.conf"], executable: "/usr/bin/shairport-sync", expected: false),
        ArgumentCase(label: "ARG is a prefix of the element", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf + ".bak"], executable: "/usr/bin/shairport-sync", expected: false),
        ArgumentCase(label: "ARG is a suffix of the element", rule: shairport,
             commandLine: ["shairport-sync", "--config=" + shairportConf], executable: "/usr/bin/shairport-sync", expected: false),
        ArgumentCase(label: "ARG only in argv[0]", rule: shairport,
             commandLine: [shairportConf, "-c", "x"], executable: "/usr/bin/shairport-sync", expected: false),
        ArgumentCase(label: "same config, other program", rule: shairport,
             commandLine: ["gmediarender", "-c", shairportConf], executable: "/usr/bin/gmediarender", expected: false),
        ArgumentCase(label: "argv[0] spoofed, exe differs", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/dash", expected: false),
        ArgumentCase(label: "binary replaced on disk", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync (deleted)", expected: true),
        ArgumentCase(label: "other user", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", uid: 0, expected: false),
        ArgumentCase(label: "zombie", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", state: "Z", expected: false),
        ArgumentCase(label: "kernel thread", rule: shairport, commandLine: [], executable: nil, expected: false),

        // python3 through Debian's symlink, told apart by its script.
        ArgumentCase(label: "python3 -> python3.11, script and device", rule: radio,
             commandLine: ["python3", runvlc, "http://radio/stream", "ch2"], executable: "/usr/bin/python3.11", expected: true),
        ArgumentCase(label: "order does not matter", rule: radio,
             commandLine: ["python3", "-u", "ch2", "--", runvlc], executable: "/usr/bin/python3.11", expected: true),
        ArgumentCase(label: "started by its real name", rule: radio,
             commandLine: ["/usr/bin/python3.11", runvlc, "URL", "ch2"], executable: "/usr/bin/python3.11", expected: true),
        ArgumentCase(label: "interpreter upgraded on disk", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: "/usr/bin/python3.11 (deleted)", expected: true),
        ArgumentCase(label: "another script to the same device", rule: radio,
             commandLine: ["python3", "/home/pi/amplipi-dev/streams/fmradio.py", "ch2"], executable: "/usr/bin/python3.11", expected: false),
        ArgumentCase(label: "same script, another device", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch3"], executable: "/usr/bin/python3.11", expected: false),
        ArgumentCase(label: "ch2 is not ch21", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch21"], executable: "/usr/bin/python3.11", expected: false),
        ArgumentCase(label: "ch2 inside another element", rule: radio,
             commandLine: ["python3", runvlc, "--device=ch2"], executable: "/usr/bin/python3.11", expected: false),
        ArgumentCase(label: "a python3.11 elsewhere", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: "/opt/venv/bin/python3.11", expected: false),
        ArgumentCase(label: "another interpreter", rule: radio,
             commandLine: ["python2", runvlc, "URL", "ch2"], executable: "/usr/bin/python2.7", expected: false),
        ArgumentCase(label: "exe unreadable: argv[0] decides, as for the -o rule", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: nil, expected: true),

        // `--x=v` is one element.
        ArgumentCase(label: "--x=v matches --x=v", rule: dlna(["--gstout-audiodevice=ch1"]),
             commandLine: ["gmediarender", "--gstout-audiodevice=ch1"], executable: "/usr/bin/gmediarender", expected: true),
        ArgumentCase(label: "--x=v is not --x v", rule: dlna(["--gstout-audiodevice=ch1"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: false),
        ArgumentCase(label: "--x is not --x=v", rule: dlna(["--gstout-audiodevice"]),
             commandLine: ["gmediarender", "--gstout-audiodevice=ch1"], executable: "/usr/bin/gmediarender", expected: false),
        ArgumentCase(label: "both elements of --x v, either order", rule: dlna(["ch1", "--gstout-audiodevice"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: true),
        ArgumentCase(label: "every ARG is needed", rule: dlna(["--gstout-audiodevice", "ch1", "-f", "Zone"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1", "-f"], executable: "/usr/bin/gmediarender", expected: false),

        // No identity at all matches nothing, whatever the process.
        ArgumentCase(label: "no device and no ARG", rule: dlna([]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: false),
        // The -o identity with a script: both must hold.
        ArgumentCase(label: "-o and the script", rule: withDevice(radio, "lb3c"),
             commandLine: ["python3", runvlc, "ch2", "-o", "lb3c"], executable: "/usr/bin/python3.11", expected: true),
        ArgumentCase(label: "-o without the script", rule: withDevice(radio, "lb3c"),
             commandLine: ["python3", "/srv/other.py", "ch2", "-o", "lb3c"], executable: "/usr/bin/python3.11", expected: false),
    ]

    static func dlna(_ arguments: [String]) -> StalePlayerRule {
        StalePlayerRule(baseName: "gmediarender", executable: "/usr/bin/gmediarender", device: nil, arguments: arguments,
                        uid: 1000, excluded: [])
    }

    static func withDevice(_ rule: StalePlayerRule, _ device: String) -> StalePlayerRule {
        var rule = rule
        rule.device = device
        return rule
    }

    @Test(arguments: argumentCases)
    func argumentIdentity(_ example: ArgumentCase) {
        #expect(StalePlayers.matches(commandLine: example.commandLine, executable: example.executable,
                                     uid: example.uid, state: example.state, rule: example.rule) == example.expected)
    }

    /// The basename rule holds where resolution fails or differs: a copy of
    /// the player elsewhere (how the tests run players) is the player.
    @Test func aCopyOfThePlayerElsewhereMatchesByItsBasename() {
        var rule = Self.shairport
        rule.executable = nil
        #expect(StalePlayers.matches(commandLine: ["shairport-sync", "-c", Self.shairportConf],
                                     executable: "/tmp/bin/shairport-sync", uid: 1000, state: "S", rule: rule))
        rule.executable = "/usr/bin/shairport-sync"
        #expect(StalePlayers.matches(commandLine: ["shairport-sync", "-c", Self.shairportConf],
                                     executable: "/tmp/bin/shairport-sync", uid: 1000, state: "S", rule: rule))
        // Without resolution, python3 never matches the python3.11 it runs:
        // waiting, not a wrong kill.
        var radio = Self.radio
        radio.executable = nil
        #expect(!StalePlayers.matches(commandLine: ["python3", Self.runvlc, "ch2"], executable: "/usr/bin/python3.11",
                                      uid: 1000, state: "S", rule: radio))
    }
}
