/// Why a spawn produced no running child.
public struct SpawnFailure: Error, Equatable, Sendable {
    public enum Stage: Sendable, Equatable {
        /// No process could be created (EAGAIN, ENOMEM, ...).
        case clone
        /// The process was created but exec failed (ENOENT, EACCES, ...).
        case exec
        /// The process ran but its pidfd could not be watched (epoll_ctl):
        /// it was ended at once.
        case watch
    }

    public var stage: Stage
    public var errno: Int32

    public init(stage: Stage, errno: Int32) {
        self.stage = stage
        self.errno = errno
    }
}
