import Supervision

/// A part that the reactor watches on behalf of something else (the gate's
/// probe, its stale-player reaper, its device watcher, the player's group
/// leftovers). It registers descriptors through the `LoopHandle` it is given
/// and turns their readiness into events for the table. A source with a
/// deadline of its own (a pure table's) names it: the loop arms its one timer
/// for the earliest of them all. The reactor needs no case for it: the handle
/// tags every registration with the source's own number.
public protocol EventSource: AnyObject {
    /// Called once, before the loop runs. Keep the handle: registrations made
    /// later (a probe's descriptors, a pidfd) go through it too.
    func attach(_ handle: LoopHandle) throws(SystemError)
    /// A descriptor registered through the handle is ready; returns the event
    /// to feed to the table, if any.
    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent?
    /// The source's next deadline, if it has one.
    var deadline: MonotonicInstant? { get }
    /// `deadline` has passed (the loop's clock read `now`); returns the event
    /// to feed to the table, if any.
    func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent?
}

/// What an event source may do with the reactor, and no more: watch and
/// unwatch descriptors, log, learn the child's pid, and give up on an
/// internal error.
public struct LoopHandle {
    /// Which of the source's registrations is ready: the slot and generation
    /// it chose when it registered (a stale event from a closed descriptor
    /// whose number was reused carries an old generation).
    public struct Registration: Equatable, Sendable {
        public var slot: UInt16
        public var generation: UInt32

        public init(slot: UInt16 = 0, generation: UInt32 = 0) {
            self.slot = slot
            self.generation = generation
        }
    }

    /// Not retained: the loop owns its sources, and a source keeps its
    /// handle, so a strong reference would be a cycle. The loop outlives
    /// every handle it gives out. (Unmanaged rather than `unowned`, which
    /// Embedded Swift does not have.)
    private let owner: Unmanaged<SupervisionLoop>
    private let source: UInt16
    private var loop: SupervisionLoop { owner.takeUnretainedValue() }

    init(loop: SupervisionLoop, source: UInt16) {
        self.owner = .passUnretained(loop)
        self.source = source
    }

    public func watch(_ fd: Int32, for interest: Epoll.Readiness, _ registration: Registration = Registration()) throws(SystemError) {
        try loop.epoll.add(fd, interest, Epoll.Token(source: source, slot: registration.slot, generation: registration.generation))
    }

    /// Takes the new descriptor `fd` and watches it for input under
    /// `generation`: the descriptor, or nil when it cannot be watched (then it
    /// is closed here).
    public func watchInput(adopting fd: Int32, generation: UInt32) -> Descriptor? {
        let owned = Descriptor(adopting: fd)
        do {
            try watch(fd, for: .input, Registration(generation: generation))
        } catch {
            return nil  // `owned` closes it.
        }
        return owned
    }

    /// Before the descriptor is closed (a closed one leaves epoll by itself,
    /// but only once every duplicate of it is closed too).
    public func unwatch(_ fd: Int32) {
        loop.epoll.remove(fd)
    }

    public var logger: Logger { loop.logger }

    /// The loop's clock (a test's fake one in tests).
    public var now: MonotonicInstant { loop.clock() }

    /// What the status line shows changed outside the table (a holder of the
    /// device while the player runs): STATUS= and the status file are written again.
    public func statusChanged() {
        loop.hooks.phaseChanged?(loop.table)
    }

    /// The running child, which no source may ever signal on its own.
    public var childPID: Int32? { loop.childPID }

    /// The reactor's own machinery failed: the child is stopped and monitord exits 70.
    public func fail(_ error: SystemError) {
        loop.internalError(error)
    }
}

extension EventSource {
    public var deadline: MonotonicInstant? { nil }
    public func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent? { nil }
}
