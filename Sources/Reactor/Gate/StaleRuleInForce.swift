import Presentation

/// The stale rule's identity as monitord applies it, settled once at start-up:
/// COMMAND resolved to its executable, and the script an interpreter runs
/// added to the arguments a leftover must have. What the log says about it
/// comes from here too, so the sentence and the rule cannot drift apart.
public struct StaleRuleInForce: Equatable, Sendable {
    /// False with `--alsa-device` and no `--stale-match`: nothing is ever ended.
    public var endsLeftovers: Bool
    public var baseName: String
    public var executable: String?
    public var device: String?
    public var arguments: [String]
    /// The interpreter's script when it was added to `arguments` without a
    /// `--stale-match` naming it.
    public var addedScript: String?
    /// The PCM the gate waits for (for the sentences).
    public var gatedDevice: String

    /// `resolve` finds COMMAND's executable; `isRegularFile` tells a script
    /// from any other word (both hit the file system; tests pass fakes).
    public init(_ settings: GateSettings,
                resolve: (String) -> String? = { ExecutableLookup.resolve($0, searchPath: ExecutableLookup.searchPath) },
                isRegularFile: (String) -> Bool = ExecutableLookup.isRegularFile) {
        self.init(commandBaseName: settings.commandBaseName, commandPath: settings.commandPath,
                  identity: settings.staleIdentity, scriptCandidate: settings.scriptCandidate,
                  gatedDevice: settings.parameters.device, resolve: resolve, isRegularFile: isRegularFile)
    }

    /// The same rule without a gate (the quick-exit rule: `gatedDevice` is
    /// then only what the sentences call the device, and goes unused).
    public init(commandBaseName: String, commandPath: String, identity: StaleIdentity, scriptCandidate: String?,
                gatedDevice: String = "",
                resolve: (String) -> String? = { ExecutableLookup.resolve($0, searchPath: ExecutableLookup.searchPath) },
                isRegularFile: (String) -> Bool = ExecutableLookup.isRegularFile) {
        baseName = commandBaseName
        self.gatedDevice = gatedDevice
        var arguments: [String] = []
        switch identity {
        case .none:
            endsLeftovers = false
        case .outputDevice(let device):
            endsLeftovers = true
            self.device = device
        case .arguments(let given):
            endsLeftovers = true
            // A repeated ARG says nothing more.
            for argument in given where !arguments.contains(argument) { arguments.append(argument) }
        }
        executable = endsLeftovers ? resolve(commandPath) : nil
        // `--stale-match ch2` alone would take any python3 script playing to
        // ch2 for a leftover: the script is what tells two python3 apart.
        if endsLeftovers, let script = scriptCandidate, !arguments.contains(script), isRegularFile(script) {
            arguments.append(script)
            addedScript = script
        }
        self.arguments = arguments
    }

    public func rule(uid: UInt32, excluded: Set<Int32>) -> StalePlayerRule {
        StalePlayerRule(baseName: baseName, executable: executable, device: device, arguments: arguments,
                        uid: uid, excluded: excluded)
    }

    /// `squeezelite -o lb0c`, `python3 with /srv/runvlc.py, ch2`: a leftover as
    /// the search lines name it.
    public var leftover: String {
        var text = baseName
        if let device { text += " -o \(device)" }
        if !arguments.isEmpty { text += " with " + arguments.joined(separator: ", ") }
        return text
    }

    /// The one line that says which identity is in force.
    public var announcement: String {
        guard endsLeftovers else { return "no --stale-match: holders are named, not ended" }
        return "stale rule for \(gatedDevice): a leftover is \(identity)"
    }

    /// What a leftover is: `squeezelite (/usr/bin/squeezelite) with -o lb0c,
    /// run by the same user and not started by monitord`.
    public var identity: String {
        let file = executable.map { " (\($0))" } ?? ""
        var what = "\(baseName)\(file)"
        if let device { what += " with -o \(device)" }
        let elements = arguments.map { "'\($0)'" }.joined(separator: ", ")
        if !arguments.isEmpty { what += (device == nil ? " whose arguments include " : " and the arguments ") + elements }
        let script = addedScript.map { "; the script \($0) is part of it because COMMAND runs it" } ?? ""
        return "\(what), run by the same user and not started by monitord\(script)"
    }
}
