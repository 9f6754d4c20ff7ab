import CLibc

/// errno as log lines show it: names and strerror's text, no Foundation.
/// (Reading errno itself is the reactor's: `Errno.current`.)
public enum Errno {
    /// `EBUSY (Device or resource busy)`: the symbolic name first, because
    /// operators grep for it, then strerror's text.
    public static func describe(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        if let name = name(code) { return "\(name) (\(text))" }
        return text
    }

    /// Symbolic names for the errnos a supervisor actually meets.
    public static func name(_ code: Int32) -> String? {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case E2BIG: return "E2BIG"
        case ENOEXEC: return "ENOEXEC"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EBUSY: return "EBUSY"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ETXTBSY: return "ETXTBSY"
        case EPIPE: return "EPIPE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ELOOP: return "ELOOP"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ESTRPIPE: return "ESTRPIPE"
        case EBADFD: return "EBADFD"
        case ECONNREFUSED: return "ECONNREFUSED"
        default: return nil
        }
    }

    /// strerror's text alone, as a shell prints it.
    public static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
