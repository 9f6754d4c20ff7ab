import Presentation
import CLibc

/// Who holds the sound devices. ALSA has no API for this, and spawning
/// `fuser` costs a process per question, so /proc/*/fd is read directly:
/// each entry is a symbolic link whose target names the open file.
public enum DeviceHolders {
    public static func scan(procRoot: String = "/proc", deviceDirectory: String = "/dev/snd", excluding: Set<Int32> = []) -> HolderScan {
        let prefixes = devicePrefixes(deviceDirectory)
        var holders: [DeviceHolder] = []
        var unreadable = 0
        if case .failure(let error) = ProcEntries.directoryEntries(procRoot) {
            return HolderScan(holders: [], unreadableProcesses: 0, failure: error.errno)
        }
        for pid in ProcEntries.processIDs(procRoot: procRoot) where !excluding.contains(pid) {
            let fdDirectory = "\(procRoot)/\(pid)/fd"
            let entries: [String]
            switch ProcEntries.directoryEntries(fdDirectory) {
            case .success(let names): entries = names
            case .failure(let error):
                // ENOENT/ESRCH: it exited during the scan; that is no holder.
                if error.errno == EACCES || error.errno == EPERM { unreadable += 1 }
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOMEM {
                    return HolderScan(holders: holders, unreadableProcesses: unreadable, failure: error.errno)
                }
                continue
            }
            var devices: Set<String> = []
            for entry in entries {
                guard let target = ProcEntries.linkTarget("\(fdDirectory)/\(entry)") else { continue }
                if prefixes.contains(where: { target.hasPrefix($0) }) { devices.insert(target) }
            }
            guard !devices.isEmpty else { continue }
            let commandLine = ProcEntries.commandLine(pid: pid, procRoot: procRoot) ?? []
            holders.append(DeviceHolder(pid: pid, commandLine: commandLine, devices: devices.sorted()))
        }
        return HolderScan(holders: holders, unreadableProcesses: unreadable)
    }

    /// "dir/" as given and as resolved: the kernel reports link targets with
    /// symbolic links resolved, while the caller may name the directory
    /// through one.
    private static func devicePrefixes(_ directory: String) -> [String] {
        var trimmed = directory
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        var prefixes = [trimmed + "/"]
        if let resolved = realpath(trimmed, nil) {
            let path = String(cString: resolved)
            free(resolved)
            if path + "/" != prefixes[0] { prefixes.append(path + "/") }
        }
        return prefixes
    }
}
