import Testing
import Reactor
import Supervision
import Presentation

/// The quick-exit rule's settings as the command line makes them: only with
/// `--stale-match`, gated or not, with the backoff reset as what counts as a
/// quick exit and the same identity the gate's stale rule would apply.
@Suite struct QuickExitSettingsTests {
    static func options(_ arguments: [String]) throws -> Options {
        guard case .run(let options) = try OptionParser.parse(arguments) else { throw CancellationError() }
        return options
    }

    /// A port-holding player with no ALSA device may use `--stale-match`.
    @Test func staleMatchNeedsNoGate() throws {
        let options = try Self.options(["--stale-match", "/srv/player.py", "--stale-match", "4000", "--backoff-reset", "5s",
                                        "--stop-timeout", "2s", "--", "python3", "/srv/player.py", "4000"])
        #expect(options.gateDevice == nil && options.derived.gate == nil)
        #expect(options.staleIdentity == .arguments(["/srv/player.py", "4000"]))
        let settings = try #require(options.quickExitSettings)
        #expect(settings == QuickExitSettings(threshold: 3, reset: .seconds(5), stopTimeout: .seconds(2),
                                              killGrace: SupervisionConfiguration().killGrace, restart: .onFailure,
                                              commandBaseName: "python3", commandPath: "python3",
                                              staleMatch: ["/srv/player.py", "4000"], scriptCandidate: "/srv/player.py"))
    }

    @Test func theGateOffNoLongerContradictsStaleMatch() throws {
        let options = try Self.options(["--alsa-gate", "off", "--stale-match", "--name=z", "--stale-after-exits", "5",
                                        "squeezelite", "--name=z", "-o", "lb3c"])
        #expect(options.derived.gate == nil)
        #expect(options.quickExitSettings?.threshold == 5)
        #expect(options.quickExitSettings?.staleMatch == ["--name=z"])
    }

    /// The `-o` identity is a device's: a leftover holding no device is told
    /// by what only the operator can name, so without `--stale-match` the
    /// rule does not exist.
    @Test func withoutStaleMatchThereIsNoRule() throws {
        #expect(try Self.options(["squeezelite", "-o", "lb3c"]).quickExitSettings == nil)
        #expect(try Self.options(["--alsa-device", "ch2", "python3", "/srv/runvlc.py", "ch2"]).quickExitSettings == nil)
        #expect(try Self.options(["python3", "/srv/player.py", "4000"]).quickExitSettings == nil)
    }

    /// The printed default is what the parser uses without the option.
    @Test func thePrintedDefaultIsTheParsersOwn() throws {
        let entry = OptionTable.entry(.staleAfterExits)
        let command = ["--stale-match", "4000", "python3", "/srv/player.py", "4000"]
        let given = try Self.options([entry.long, try #require(entry.defaultValue)] + command)
        #expect(given.quickExitSettings == (try Self.options(command)).quickExitSettings)
        #expect(given.quickExitSettings?.threshold == 3)
    }

    /// The same identity as the gate's rule, and one line announcing it.
    @Test func theIdentityIsTheStaleRulesOwn() {
        let inForce = StaleRuleInForce(commandBaseName: "python3", commandPath: "python3",
                                       identity: .arguments(["4000"]), scriptCandidate: "/srv/player.py",
                                       resolve: { _ in "/usr/bin/python3.11" }, isRegularFile: { $0 == "/srv/player.py" })
        #expect(inForce.endsLeftovers)
        #expect(inForce.arguments == ["4000", "/srv/player.py"])
        #expect(inForce.rule(uid: 1000, excluded: [42]) == StalePlayerRule(
            baseName: "python3", executable: "/usr/bin/python3.11", device: nil, arguments: ["4000", "/srv/player.py"],
            uid: 1000, excluded: [42]))
        #expect(inForce.identity == "python3 (/usr/bin/python3.11) whose arguments include '4000', '/srv/player.py', run by"
                    + " the same user and not started by monitord; the script /srv/player.py is part of it because COMMAND runs it")
    }
}
