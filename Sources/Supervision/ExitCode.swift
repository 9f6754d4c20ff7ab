/// monitord's exit codes (sysexits where one fits, a shell's for exec
/// failures), documented in --help, the man page and docs/behaviour.md.
public enum ExitCode {
    /// The child exited 0, or a stop signal ended supervision.
    public static let success: Int32 = 0
    /// EX_USAGE: a bad command line.
    public static let usage: Int32 = 64
    /// EX_SOFTWARE: a kernel facility monitord needs failed.
    public static let software: Int32 = 70
    /// COMMAND exists but cannot be executed (first start only).
    public static let cannotExecute: Int32 = 126
    /// COMMAND was not found (first start only).
    public static let notFound: Int32 = 127
}
