/// A short, allocation-free list of actions (one transition needs at most six).
public struct SupervisionActions: Sequence, Equatable, Sendable, CustomStringConvertible {
    public static let capacity = 6
    private var storage: (SupervisionAction?, SupervisionAction?, SupervisionAction?,
                          SupervisionAction?, SupervisionAction?, SupervisionAction?)
    public private(set) var count: Int

    public init() {
        storage = (nil, nil, nil, nil, nil, nil)
        count = 0
    }

    public init(_ actions: [SupervisionAction]) {
        self.init()
        for action in actions { append(action) }
    }

    public mutating func append(_ action: SupervisionAction) {
        switch count {
        case 0: storage.0 = action
        case 1: storage.1 = action
        case 2: storage.2 = action
        case 3: storage.3 = action
        case 4: storage.4 = action
        case 5: storage.5 = action
        default: preconditionFailure("a transition produced more than \(Self.capacity) actions")
        }
        count += 1
    }

    public subscript(index: Int) -> SupervisionAction {
        precondition(index >= 0 && index < count)
        switch index {
        case 0: return storage.0!
        case 1: return storage.1!
        case 2: return storage.2!
        case 3: return storage.3!
        case 4: return storage.4!
        default: return storage.5!
        }
    }

    public var isEmpty: Bool { count == 0 }

    public struct Iterator: IteratorProtocol {
        let list: SupervisionActions
        var index = 0
        public mutating func next() -> SupervisionAction? {
            guard index < list.count else { return nil }
            defer { index += 1 }
            return list[index]
        }
    }

    public func makeIterator() -> Iterator { Iterator(list: self) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.count == rhs.count && (0..<lhs.count).allSatisfy { lhs[$0] == rhs[$0] }
    }

    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }
}
