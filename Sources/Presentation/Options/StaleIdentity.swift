/// What makes a running process a leftover instance of the supervised player,
/// as far as the command line says (the stale rule adds the executable, the
/// uid and the exclusions: `StalePlayerRule`).
public enum StaleIdentity: Equatable, Sendable {
    /// The gate came from the command's `-o lb*`: a leftover has the same
    /// last `-o` value (the rule monitord has always had for squeezelite).
    case outputDevice(String)
    /// `--stale-match ARG`, in the order given: a leftover has every ARG as a
    /// whole element of its argument vector after argv[0].
    case arguments([String])
    /// `--alsa-device` without `--stale-match`: monitord cannot tell a
    /// leftover of this player from any other process of the same program,
    /// so holders are named and nothing is ever ended.
    case none
}

/// The script an interpreter command runs: the first word after argv[0] that
/// is not an option (a `--` makes the word after it the candidate); never an
/// empty word (no file has an empty name). Whether
/// it names a regular file is for the caller to check: this stays pure.
/// `python3 -u /srv/runvlc.py URL ch2` gives `/srv/runvlc.py`; so does
/// `shairport-sync -c /etc/shairport.conf` give the configuration file,
/// which only makes that identity stricter.
public enum InterpreterScript {
    public static func candidate(in command: [String]) -> String? {
        var index = 1
        while index < command.count {
            let word = command[index]
            if word == "--" {
                let next = index + 1 < command.count ? command[index + 1] : ""
                return next.isEmpty ? nil : next
            }
            if word.hasPrefix("-") && word != "-" {
                index += 1
                continue
            }
            return word.isEmpty ? nil : word
        }
        return nil
    }
}
