import Presentation
import Reactor

/// `monitord --help`: the options come from `OptionTable` (name, value,
/// what it does, default and limit), the prose around them is written here.
enum HelpText {
    static var text: String {
        var text = """
        usage: monitord [OPTIONS] [--] COMMAND [ARGS...]

        Runs COMMAND and keeps it running: restarts it with exponential backoff when
        it fails, forwards signals to it, and stops it cleanly. Options end at the
        first word that is not an option, so `monitord squeezelite -o lb0c` gives
        -o to squeezelite.

        """
        for section in OptionSection.allCases {
            text += "\n" + heading(section) + "\n"
            let entries = OptionTable.entries.filter { $0.section == section }
            let aligned = entries.contains { $0.short != nil }
            for entry in entries { text += lines(for: entry, alignedWithShortForms: aligned) }
            text += epilogue(section)
        }
        text += """

        DUR is a number with a unit: 150ms, 2s, 1.5s, 1m, 1m30s, 1h (also us, ns); a
        bare number is seconds; at most 24h. 0 is allowed unless the option gives a
        least value (--backoff-initial 0 restarts at once). A value may also follow
        an equals sign: --stop-timeout=5s.

        Exit status:
          0    COMMAND exited 0 (--restart on-failure), or monitord was stopped by
               SIGTERM/SIGINT/SIGQUIT
          64   usage error (bad option or value, missing COMMAND)
          70   internal error (a system facility monitord needs failed)
          126  COMMAND was found but cannot be executed (first start only)
          127  COMMAND was not found (first start only)

        """
        return text
    }

    /// Where the description column starts, and the line width.
    static let column = 26
    static let width = 79

    /// `  --stop-timeout DUR      after SIGTERM...`, wrapped at `width`; a
    /// label too long for its column puts the description on the next line.
    /// In a section with short forms (`-q, --quiet`) every long form lines up.
    static func lines(for entry: OptionEntry, alignedWithShortForms aligned: Bool) -> String {
        var label = entry.short.map { "-" + String($0) + ", " } ?? (aligned ? "    " : "")
        label += entry.long
        if let value = entry.value { label += " " + value }
        var description = entry.help
        if let note = entry.defaultAndLimit { description += " " + note }
        var out = "  " + label
        var used = out.utf8.count
        if used + 2 > column {
            out += "\n"
            used = 0
        }
        var lineStarted = false
        for word in description.split(separator: " ") {
            let length = word.utf8.count
            if lineStarted && used + 1 + length > width {
                out += "\n"
                used = 0
                lineStarted = false
            }
            if !lineStarted {
                out += String(repeating: " ", count: column - used) + String(word)
                used = column + length
                lineStarted = true
            } else {
                out += " " + String(word)
                used += 1 + length
            }
        }
        return out + "\n"
    }

    static func heading(_ section: OptionSection) -> String {
        switch section {
        case .restart: return "Restart policy:"
        case .gate: return "ALSA readiness gate (for players that write to a loopback, `-o lb*`):"
        case .stale: return "Stale players (a leftover of this player, in the gate's way or a start's):"
        case .status: return "Status:"
        case .output: return "Output:"
        }
    }

    static func epilogue(_ section: OptionSection) -> String {
        switch section {
        case .stale:
            return """
            It also runs COMMAND's executable (found through PATH and symbolic links:
            python3 may be /usr/bin/python3.11), has monitord's uid, and was not started
            by monitord. Without --stale-match: a gate found from `-o lb*` ends a process
            of the same name with the same last -o; with --alsa-device, holders are
            named and nothing is ended. With --stale-match, gated or not, a player that
            exits quickly --stale-after-exits times in a row (a leftover holds its
            port) gets such a leftover ended too; the -o identity never ends one that
            way. An interpreter's name is its executable's, so `python3` alone says
            nothing: when COMMAND's first non-option argument is a file (a script),
            that path is always part of the identity; the script path is what tells
            two python3 processes apart. Examples:
              monitord --alsa-device lb2c \\
                  --stale-match /home/pi/.config/amplipi/srcs/v2/shairport.conf -- \\
                  shairport-sync -c /home/pi/.config/amplipi/srcs/v2/shairport.conf
              monitord --alsa-device ch2 --stale-match ch2 \\
                  --stale-match /home/pi/amplipi-dev/streams/runvlc.py -- \\
                  python3 /home/pi/amplipi-dev/streams/runvlc.py URL ch2

            """
        case .restart, .gate, .status, .output:
            return ""
        }
    }
}
