import Foundation
import Testing
@testable import Reactor

/// A real AF_UNIX datagram socket standing in for systemd's notify socket.
private final class NotifyListener {
    let descriptor: Int32
    /// The NOTIFY_SOCKET value that reaches it: a path, or `@name`.
    let name: String
    private let path: String?

    init(abstract: Bool) throws {
        let unique = "monitord-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
        name = abstract ? "@\(unique)" : NSTemporaryDirectory() + unique
        path = abstract ? nil : name
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno)!) }
        // Never hang a test: a datagram that did not arrive is a failure within 2 s.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

@Suite struct ServiceNotifierTests {
    private func connected(_ value: String) throws -> ServiceNotifier {
        switch ServiceNotifier.connect(to: value) {
        case .success(let notifier): return notifier
        case .failure(let error): throw error
        }
    }

    private func error(_ value: String) -> NotifyError? {
        if case .failure(let error) = ServiceNotifier.connect(to: value) { return error }
        return nil
    }

    @Test(arguments: [false, true])
    func datagramsArriveWholeAndInOrder(abstract: Bool) throws {
        let listener = try NotifyListener(abstract: abstract)
        let notifier = try connected(listener.name)
        let messages = ["READY=1", "STATUS=running squeezelite (pid 812), 3 restarts",
                        "STATUS=waiting for lb3c: EBUSY, held by pid 790 squeezelite",
                        "STOPPING=1", "WATCHDOG=1", "STATUS=Küche\nREADY=1"]
        for message in messages {
            #expect(notifier.send(message))
        }
        for message in messages {
            #expect(listener.receive() == message)
        }
    }

    @Test func aVanishedSocketMakesSendReturnFalse() throws {
        var listener: NotifyListener? = try NotifyListener(abstract: false)
        let notifier = try connected(listener!.name)
        listener = nil
        #expect(!notifier.send("READY=1"))
    }

    @Test func aFullSocketBufferDoesNotBlock() throws {
        let listener = try NotifyListener(abstract: true)
        let notifier = try connected(listener.name)
        // Nobody reads: the receive queue fills (max_dgram_qlen, ~512) and
        // send must then fail at once instead of blocking.
        let start = ContinuousClock.now
        var refused = 0
        for _ in 0..<5000 where !notifier.send("WATCHDOG=1") {
            refused += 1
        }
        #expect(refused > 0)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func missingPathIsAnError() {
        let message = error("/nonexistent-monitord-dir/notify")?.message
        #expect(message?.contains("ENOENT") == true, "\(message ?? "no error")")
    }

    @Test func unboundAbstractNameIsAnError() {
        #expect(error("@monitord-nobody-listens-\(UUID().uuidString)") != nil)
    }

    @Test func tooLongIsAnError() {
        let message = error("/" + String(repeating: "x", count: 200))?.message
        #expect(message?.contains("longer than") == true)
        #expect(error("@" + String(repeating: "x", count: 108)) != nil)
        #expect(message?.contains("\n") == false, "one line, ready for a warning")
    }

    @Test(arguments: ["run/systemd/notify", "notify", "@", "vsock:2:1234"])
    func otherFormsAreErrors(value: String) {
        #expect(error(value) != nil)
    }
}

/// These change the process environment, so they run one at a time.
@Suite(.serialized) struct ServiceNotifierEnvironmentTests {
    private func clear() {
        for name in ServiceNotifier.environmentVariables { unsetenv(name) }
    }

    private func assertCleared() {
        for name in ServiceNotifier.environmentVariables {
            #expect(getenv(name) == nil, "\(name) must not reach the child")
        }
    }

    @Test func unsetMeansNoNotifier() throws {
        clear()
        setenv("WATCHDOG_USEC", "1000000", 1)
        let notifier = try ServiceNotifier.fromEnvironment().get()
        #expect(notifier == nil)
        assertCleared()
    }

    @Test func emptyMeansNoNotifier() throws {
        clear()
        setenv("NOTIFY_SOCKET", "", 1)
        #expect(try ServiceNotifier.fromEnvironment().get() == nil)
        assertCleared()
    }

    @Test(arguments: [false, true])
    func environmentIsReadThenRemoved(abstract: Bool) throws {
        clear()
        let listener = try NotifyListener(abstract: abstract)
        setenv("NOTIFY_SOCKET", listener.name, 1)
        setenv("WATCHDOG_USEC", "20000000", 1)
        setenv("WATCHDOG_PID", String(getpid()), 1)

        let notifier = try #require(try ServiceNotifier.fromEnvironment().get())
        assertCleared()
        #expect(notifier.socketName == listener.name)
        #expect(notifier.watchdogInterval == .seconds(10))
        #expect(notifier.send("READY=1"))
        #expect(listener.receive() == "READY=1")
    }

    @Test func watchdogForAnotherProcessIsIgnored() throws {
        clear()
        let listener = try NotifyListener(abstract: true)
        setenv("NOTIFY_SOCKET", listener.name, 1)
        setenv("WATCHDOG_USEC", "20000000", 1)
        setenv("WATCHDOG_PID", String(getpid() + 1), 1)
        let notifier = try #require(try ServiceNotifier.fromEnvironment().get())
        #expect(notifier.watchdogInterval == nil)
        assertCleared()
    }

    @Test func badSocketIsAnErrorValueAndStillCleared() {
        clear()
        setenv("NOTIFY_SOCKET", "relative/notify", 1)
        setenv("WATCHDOG_USEC", "1000000", 1)
        guard case .failure(let error) = ServiceNotifier.fromEnvironment() else {
            Issue.record("a relative NOTIFY_SOCKET must be refused")
            return
        }
        #expect(error.message.contains("relative/notify"))
        assertCleared()
    }
}
