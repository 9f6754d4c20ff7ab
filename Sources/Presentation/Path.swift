/// Path helpers that need no Foundation.
public enum Path {
    /// The last component: `squeezelite` for `/usr/bin/squeezelite`; `""` for `""`.
    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
