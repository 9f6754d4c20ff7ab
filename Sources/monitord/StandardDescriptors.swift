import Reactor

import CLibc

enum StandardDescriptors {
    /// Opens /dev/null on any of stdin, stdout, stderr that is closed. Otherwise
    /// the epoll or signal descriptor would get number 2, log lines would be
    /// written into it, and the child would start without a stderr.
    static func ensureOpen() {
        for fd in Int32(0)...2 where clibc_fcntl(fd, F_GETFD, 0) == -1 && clibc_errno() == EBADF {
            let opened = clibc_open("/dev/null", O_RDWR, 0)
            if opened >= 0 && opened != fd {
                // Lower descriptors were open, so this cannot happen; be safe
                // anyway: copy it into place, and the spare closes on its own.
                let spare = Descriptor(adopting: opened)
                _ = dup2(spare.rawValue, fd)
            }
        }
    }
}
