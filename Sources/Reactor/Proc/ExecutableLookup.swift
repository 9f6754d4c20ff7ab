import CLibc

/// Which file a command word names, as the kernel will report it in
/// /proc/PID/exe: found through PATH the way execvp finds it, with every
/// symbolic link resolved.
public enum ExecutableLookup {
    /// The canonical path of what execvp would run for `command`, or nil
    /// when nothing executable is found. `searchPath` is PATH (nil: unset,
    /// glibc's default `/bin:/usr/bin`); an empty entry is the working
    /// directory, as for execvp.
    public static func resolve(_ command: String, searchPath: String?) -> String? {
        if command.isEmpty { return nil }
        if command.contains("/") { return canonical(command) }
        let directories = (searchPath ?? "/bin:/usr/bin").split(separator: ":", omittingEmptySubsequences: false)
        for directory in directories {
            let candidate = directory.isEmpty ? command : "\(directory)/\(command)"
            if isRegularFile(candidate) && access(candidate, X_OK) == 0 { return canonical(candidate) }
        }
        return nil
    }

    /// The PATH monitord's child is started with (it inherits monitord's
    /// environment, and the spawn uses execvp).
    public static var searchPath: String? { getenv("PATH").map { String(cString: $0) } }

    /// True for an existing regular file (after symbolic links), such as the
    /// script an interpreter runs.
    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG)
    }

    private static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
