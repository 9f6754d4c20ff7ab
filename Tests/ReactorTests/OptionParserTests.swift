import Testing
@testable import Presentation
@testable import Reactor
@testable import Supervision

@Suite struct OptionParserTests {
    static func options(_ arguments: [String]) throws -> Options {
        guard case .run(let options) = try OptionParser.parse(arguments) else {
            Issue.record("expected a run invocation")
            return Options()
        }
        return options
    }

    @Test func optionsEndAtTheFirstNonOption() throws {
        let options = try Self.options(["--backoff-initial", "50ms", "squeezelite", "-o", "lb0c", "--help"])
        #expect(options.command == ["squeezelite", "-o", "lb0c", "--help"])
        #expect(options.backoff.initial == .milliseconds(50))
    }

    @Test func doubleDashEndsOptions() throws {
        #expect(try Self.options(["-q", "--", "-weird-name", "x"]).command == ["-weird-name", "x"])
        #expect(try Self.options(["-q", "--", "-weird-name", "x"]).verbosity == .quiet)
    }

    @Test func inlineValuesAndShortFlags() throws {
        let options = try Self.options(["--stop-timeout=1.5s", "-qv", "--backoff-max=1m", "true"])
        #expect(options.stopTimeout == .milliseconds(1500))
        #expect(options.verbosity == .verbose)
        #expect(options.backoff.maximum == .seconds(60))
    }

    @Test func restartPolicy() throws {
        #expect(try Self.options(["x"]).restart == .onFailure)
        #expect(try Self.options(["--restart", "always", "x"]).restart == .always)
        #expect(try Self.options(["--restart=on-failure", "x"]).restart == .onFailure)
    }

    /// The gate's defaults are a short probe and fast first retries growing
    /// to 4 s; a fixed 1 s probe every 2 s can still be asked for.
    @Test func gateDefaultsAreShortProbesAndAFixedScheduleIsSelectable() throws {
        let defaults = try Self.options(["squeezelite", "-o", "lb0c"])
        #expect(defaults.probeDuration == .milliseconds(50))
        #expect(defaults.probeRetry == nil)
        #expect(defaults.probeInterval == .seconds(4))
        #expect(defaults.staleAfter == 20)
        #expect(defaults.holderGrace == .seconds(1))
        #expect(defaults.derived.table.gate?.holderGrace == .seconds(1))
        let fixed = try Self.options(["--probe-duration", "1s", "--probe-retry", "2s", "--probe-interval", "2s", "x"])
        #expect(fixed.probeDuration == .seconds(1) && fixed.probeRetry == .seconds(2) && fixed.probeInterval == .seconds(2))
        // A short interval alone is fine: the default retry is cut to it.
        #expect(try Self.options(["--probe-interval", "10ms", "x"]).probeRetry == nil)
        #expect(GateTiming(probeInterval: .milliseconds(10)).probeRetry == .milliseconds(10))
    }

    @Test func helpAndVersion() throws {
        #expect(try OptionParser.parse(["--help"]) == .help)
        #expect(try OptionParser.parse(["-h", "x"]) == .help)
        #expect(try OptionParser.parse(["--version"]) == .version)
    }

    @Test(arguments: [
        (["--bogus", "x"], "unknown option '--bogus'"),
        (["-z", "x"], "unknown option '-z'"),
        (["--backoff-max", "banana", "x"], "--backoff-max 'banana'"),
        (["--backoff-initial", "-1s", "x"], "cannot be negative"),
        (["--backoff-initial", "40s", "x"], "longer than --backoff-max"),
        (["--stop-timeout", "", "x"], "--stop-timeout needs a duration"),
        (["--stop-timeout", "9999999999999999999999h", "x"], "too long"),
        (["--stop-timeout"], "needs a value"),
        ([], "missing COMMAND"),
        (["-q"], "missing COMMAND"),
        (["--"], "missing COMMAND"),
        (["--quiet=yes", "x"], "takes no value"),
        (["--alsa-gate", "maybe", "x"], "expected 'auto', 'watch' or 'off'"),
        (["--restart", "on-success", "x"], "--restart 'on-success': expected 'on-failure' or 'always'"),
        (["--restart", "Always", "x"], "expected 'on-failure' or 'always'"),
        (["--restart"], "needs a value"),
        (["--alsa-gate", "off", "--alsa-device", "lb0c", "x"], "contradict"),
        (["--alsa-gate", "watch", "x"], "--alsa-gate watch needs a device: add --alsa-device PCM"),
        (["--stale-after", "0", "x"], "--stale-after '0'"),
        (["--holder-grace", "-1s", "x"], "--holder-grace '-1s': a duration cannot be negative"),
        (["--holder-grace", "soon", "x"], "--holder-grace 'soon'"),
        (["--probe-duration", "0", "x"], "must be longer than 0"),
        (["--probe-interval", "0", "x"], "--probe-interval '0': must be at least 1ms"),
        (["--probe-retry", "0", "x"], "--probe-retry '0': must be at least 1ms"),
        (["--probe-retry", "5s", "--probe-interval", "1s", "x"], "--probe-retry 5 s is longer than --probe-interval 1 s"),
        (["--probe-retry", "5s", "x"], "--probe-retry 5 s is longer than --probe-interval 4 s"),
        (["--backoff-max", "1s\u{1}\n", "x"], "'1s??'"),
        (["--alsa-device", "ch2", "--stale-match", "", "x"], "--stale-match needs a value, got an empty one"),
        (["--alsa-device", "ch2", "--stale-match=", "x"], "--stale-match needs a value, got an empty one"),
        (["--stale-after-exits", "0", "x"], "--stale-after-exits '0': expected a whole number from 1 to 1000000"),
        (["--stale-after-exits", "three", "x"], "--stale-after-exits 'three': expected a whole number"),
        (["--stale-after-exits", "-1", "x"], "--stale-after-exits '-1'"),
        (["--alsa-device", "ch2", "--stale-match"], "needs a value"),
    ])
    func usageErrors(arguments: [String], fragment: String) {
        do {
            _ = try OptionParser.parse(arguments)
            Issue.record("expected a usage error for \(arguments)")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func gateDetection() throws {
        #expect(try Self.options(["squeezelite", "-n", "z", "-o", "lb3c"]).gateDevice == "lb3c")
        #expect(try Self.options(["squeezelite", "-olb3c"]).gateDevice == "lb3c")
        #expect(try Self.options(["alsaloop", "-C", "lb3p", "-P", "ch1"]).gateDevice == nil)
        #expect(try Self.options(["squeezelite", "-o", "default"]).gateDevice == nil)
        #expect(try Self.options(["--alsa-gate", "off", "squeezelite", "-o", "lb3c"]).gateDevice == nil)
        #expect(try Self.options(["--alsa-device", "hw:0", "aplay", "x.wav"]).gateDevice == "hw:0")
    }

    /// `watch` gates the same device as `auto`, but the table starts without
    /// a probe; the watch's leftover window is the gate's time to its first
    /// stale search, in every gated mode.
    @Test func watchStartsWithoutAProbeOnTheSameDevice() throws {
        let watch = try Self.options(["--alsa-gate", "watch", "squeezelite", "-o", "lb3c"])
        #expect(watch.gateDevice == "lb3c")
        #expect(watch.derived.table.gate == nil, "no probe before a start")
        #expect(watch.derived.gate?.parameters.device == "lb3c")
        #expect(watch.derived.gate?.staleIdentity == .outputDevice("lb3c"))
        let auto = try Self.options(["--stale-after", "3", "squeezelite", "-o", "lb3c"])
        #expect(auto.derived.table.gate != nil)
        #expect(auto.derived.gate?.leftoverWindow == auto.derived.table.gate?.staleSearchWait)
        #expect(try Self.options(["--alsa-gate", "watch", "--alsa-device", "lb2c", "shairport-sync"]).derived.gate?.parameters.device == "lb2c")
    }

    /// The output device as getopt reads `-o`: joined or not, the last one
    /// wins, never argv[0], never a long option.
    @Test func outputDeviceFollowsGetopt() {
        #expect(GateDetection.outputDevice(in: ["/usr/bin/squeezelite", "-n", "Z", "-o", "lb3c", "-f", "log"]) == "lb3c")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-olb3c"]) == "lb3c")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o", "lb3c", "-o", "lb4c"]) == "lb4c", "getopt: the last wins")
        #expect(GateDetection.outputDevice(in: ["alsaloop", "-C", "lb3p", "-P", "ch1", "-t", "100000"]) == nil)
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o"]) == nil)
        #expect(GateDetection.outputDevice(in: ["-o", "lb3c"]) == nil, "argv[0] is never an option")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "--output", "lb3c"]) == nil)
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o=lb3c"]) == "=lb3c", "the caller's lb prefix check rejects it")
        #expect(GateDetection.outputDevice(in: []) == nil)
    }

    /// `--stale-match` is repeatable, keeps each value whole (`--x=v`, a value
    /// that starts with `-`), and picks the identity; without it the `-o`
    /// gate keeps its old identity and `--alsa-device` ends nothing.
    @Test func staleMatch() throws {
        let options = try Self.options(["--alsa-device", "ch2", "--stale-match", "/srv/runvlc.py", "--stale-match=--x=v",
                                        "--stale-match", "-o", "--", "python3", "/srv/runvlc.py", "URL", "ch2"])
        #expect(options.staleMatch == ["/srv/runvlc.py", "--x=v", "-o"])
        #expect(options.command == ["python3", "/srv/runvlc.py", "URL", "ch2"])
        #expect(options.staleIdentity == .arguments(["/srv/runvlc.py", "--x=v", "-o"]))
        let gate = try #require(options.derived.gate)
        #expect(gate.staleIdentity == .arguments(["/srv/runvlc.py", "--x=v", "-o"]))
        #expect(gate.commandPath == "python3" && gate.scriptCandidate == "/srv/runvlc.py")
        #expect(try Self.options(["squeezelite", "-o", "lb3c"]).staleIdentity == .outputDevice("lb3c"))
        #expect(try Self.options(["--alsa-device", "lb3c", "squeezelite", "-o", "lb3c"]).staleIdentity == StaleIdentity.none)
        #expect(try Self.options(["--stale-match", "Zone", "squeezelite", "-n", "Zone", "-o", "lb3c"]).staleIdentity == .arguments(["Zone"]))
        #expect(try Self.options(["alsaloop", "-C", "lb3p"]).staleIdentity == StaleIdentity.none)
    }

    /// The table's and the gate's halves are derived together: what they share
    /// is read once, and a command without a gate gets neither half.
    @Test func derivedConfigurationHalvesAgree() throws {
        let gated = try Self.options(["--probe-duration", "200ms", "--stop-timeout", "5s", "--probe-interval", "3s",
                                      "--stale-after", "7", "squeezelite", "-o", "lb3c"]).derived
        let gate = try #require(gated.gate)
        let timing = try #require(gated.table.gate)
        #expect(gate.parameters.device == "lb3c" && gate.commandBaseName == "squeezelite")
        #expect(gate.parameters.duration == .milliseconds(200) && timing.probeDuration == .milliseconds(200))
        #expect(gate.stopTimeout == .seconds(5) && gated.table.stopTimeout == .seconds(5))
        #expect(timing.probeInterval == .seconds(3) && timing.staleAfter == 7)
        #expect(try Self.options(["--holder-grace", "250ms", "squeezelite", "-o", "lb3c"]).derived.table.gate?.holderGrace == .milliseconds(250))
        #expect(try Self.options(["--holder-grace=0", "squeezelite", "-o", "lb3c"]).derived.table.gate?.holderGrace == .zero)
        let ungated = try Self.options(["alsaloop", "-C", "lb3p", "-P", "ch1"]).derived
        #expect(ungated.gate == nil && ungated.table.gate == nil)
    }
}
