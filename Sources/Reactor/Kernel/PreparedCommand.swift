import CLibc

/// The command's argv as C strings, built once and reused by every spawn.
public struct PreparedCommand: ~Copyable {
    public let arguments: [String]
    let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    var file: UnsafeMutablePointer<CChar> { argv[0]! }

    public init(_ arguments: [String]) {
        precondition(!arguments.isEmpty, "a command needs at least its name")
        self.arguments = arguments
        argv = .allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() {
            argv[index] = strdup(argument)
        }
        argv[arguments.count] = nil
    }

    /// Keeps the exact bytes of `raw` for exec (arguments need not be UTF-8;
    /// `arguments`, for display, may have repaired them).
    public init(arguments: [String], raw: [UnsafeMutablePointer<CChar>]) {
        precondition(!arguments.isEmpty && arguments.count == raw.count)
        self.arguments = arguments
        argv = .allocate(capacity: raw.count + 1)
        for (index, pointer) in raw.enumerated() {
            argv[index] = strdup(pointer)
        }
        argv[raw.count] = nil
    }

    deinit {
        for index in 0..<arguments.count { free(argv[index]) }
        argv.deallocate()
    }
}
