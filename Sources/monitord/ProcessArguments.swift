import CKernelShim
import CLibc

/// argv as the process received it. Embedded Swift has no `CommandLine`; the
/// C shim captures argc and argv before main, for both compilers alike.
enum ProcessArguments {
    static var count: Int { Int(ksh_argc()) }

    /// argv[index] exactly as exec passed it (0 <= index < count).
    static func raw(_ index: Int) -> UnsafeMutablePointer<CChar> {
        UnsafeMutablePointer(mutating: ksh_argv()[index]!)
    }

    /// argv[1...], each word decoded as UTF-8 with invalid bytes repaired as
    /// U+FFFD (what `CommandLine.arguments` gives).
    static var arguments: [String] {
        stride(from: 1, to: count, by: 1).map { index in
            let word = raw(index)
            return String(decoding: UnsafeRawBufferPointer(start: word, count: strlen(word)), as: UTF8.self)
        }
    }
}
