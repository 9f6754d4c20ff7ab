import Presentation
import Supervision

/// The two halves of one run's configuration: what the table decides with,
/// and what the gate's I/O needs. Both come from `Options.derived` so that the
/// values they share (probe duration, stop timeout) are read in one place.
public struct DerivedConfiguration: Sendable {
    public var table: SupervisionConfiguration
    /// nil when the command is not gated.
    public var gate: GateSettings?
}

extension Options {
    public var derived: DerivedConfiguration {
        var table = SupervisionConfiguration(backoff: backoff, restart: restart, stopTimeout: stopTimeout)
        guard let device = gateDevice else { return DerivedConfiguration(table: table, gate: nil) }
        let timing = GateTiming(probeDuration: probeDuration,
                                probeRetry: probeRetry ?? OptionDefaults.probeRetry,
                                probeInterval: probeInterval,
                                staleAfter: staleAfter,
                                holderGrace: holderGrace)
        // `watch` starts at once: the table has no gate to probe with, and
        // the device is watched while the player runs, as in every gated mode.
        table.gate = gateMode == .watch ? nil : timing
        var gate = GateSettings(
            parameters: PCMParameters(device: device, rate: probeRate, channels: probeChannels,
                                      duration: timing.probeDuration),
            soundDirectory: soundDirectory,
            commandBaseName: Path.baseName(command[0]),
            commandPath: command[0],
            staleIdentity: staleIdentity,
            scriptCandidate: InterpreterScript.candidate(in: command),
            stopTimeout: table.stopTimeout)
        gate.leftoverWindow = timing.staleSearchWait
        return DerivedConfiguration(table: table, gate: gate)
    }
}
