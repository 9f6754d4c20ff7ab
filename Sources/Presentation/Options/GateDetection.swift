/// Deciding whether the readiness gate applies to a command.
public enum GateDetection {
    /// The value of the last `-o VALUE` or `-oVALUE` in arguments[1...] (the
    /// one getopt, and so the player, uses: the same rule stale-player
    /// matching applies); the caller checks the `lb` prefix. `--output`, `-o=X`
    /// are not recognised as anything but their literal selves (`-o=X` yields "=X").
    public static func outputDevice(in arguments: [String]) -> String? {
        OutputOption.values(in: arguments).last
    }
}

/// `-o` option values as a getopt-style parser sees them: `-o VALUE` or
/// `-oVALUE`, after argv[0], up to a `--` that ends the options.
public enum OutputOption {
    public static func values(in arguments: [String]) -> [String] {
        var values: [String] = []
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if argument == "-o" {
                if index + 1 < arguments.count { values.append(arguments[index + 1]) }
                index += 2
                continue
            }
            if argument.hasPrefix("-o") && !argument.hasPrefix("--") {
                values.append(String(argument.dropFirst(2)))
            }
            index += 1
        }
        return values
    }
}
