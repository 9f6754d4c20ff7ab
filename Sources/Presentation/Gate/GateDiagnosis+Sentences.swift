import Supervision
import CLibc

/// The pieces a diagnosis's sentences are made of.
extension GateDiagnosis {
    /// "dmix lb1 (key 0x00003404: ipc_key 1028 on hw:3,0)".
    static func describe(_ direct: DirectPlugin, key: Int32, route: PCMRoute?) -> String {
        let name = direct.name.map { " \($0)" } ?? ""
        let uid = direct.addsUID ? " + uid" : ""
        let hardware = route?.hardwareName.map { " on \($0)" } ?? ""
        return "\(direct.type)\(name) (key \(SysVIPC.hex(key)): ipc_key \(direct.configuredKey)\(uid)\(hardware))"
    }

    /// "squeezelite (pid 118, exited)", "pid 118 (exited)", "pid 300 (squeezelite -o lb2c)".
    static func who(_ pid: Int32, _ facts: GateFacts) -> String {
        let process = facts.processes.first { $0.pid == pid }
        if let commandLine = process?.commandLine {
            return "pid \(pid) (\(shown(commandLine)))"
        }
        if let own = facts.ownChildren[pid] { return "\(own) (pid \(pid), exited)" }
        return "pid \(pid) (exited)"
    }

    /// The segment's creator and last user that are alive, with what they play to.
    static func users(_ segment: SharedMemorySegment, _ facts: GateFacts) -> [String] {
        var pids: [Int32] = []
        for pid in [segment.creatorPID, segment.lastPID] where pid > 0 && !pids.contains(pid) { pids.append(pid) }
        return pids.compactMap { pid in
            guard let commandLine = facts.processes.first(where: { $0.pid == pid })?.commandLine else { return nil }
            var text = "pid \(pid) (\(shown(commandLine)))"
            if let holder = facts.scan.holders.first(where: { $0.pid == pid }) {
                text += " playing to " + holder.devices.map { Path.baseName($0) }.joined(separator: ",")
            }
            return text
        }
    }

    /// The sentence when no process holds this PCM's device and no direct
    /// plugin state explains it, read from how the probe failed.
    static func unheld(device: String, soundDirectory: String, route: PCMRoute?, failure: ProbeFailure?) -> String {
        let none = route?.nodeName.map { "no process holds \(soundDirectory)/\($0)" } ?? "no process holds \(soundDirectory)/*"
        guard let failure, failure.stage != .timeout, !(failure.stage == .open && failure.errno == EBUSY) else {
            return "\(none): \(device) is busy inside the driver or held by another user"
        }
        if failure.stage == .open && failure.errno == ENOENT {
            return "\(none): \(device) is not defined in the ALSA configuration, or names a card that is not there (\(failure))"
        }
        return "\(none): \(device) fails unheld (\(failure)): a configuration or driver problem, or another user's process"
    }

    public static func shown(_ commandLine: [String]) -> String {
        let joined = commandLine.isEmpty ? "?" : commandLine.joined(separator: " ")
        return joined.utf8.count > 160 ? String(joined.prefix(160)) + "..." : joined
    }

    public static func name(_ commandLine: [String]) -> String {
        Path.baseName(commandLine.first ?? "?")
    }
}
