import Glibc

/// Polls `condition` every 20 ms until it holds or `timeout` passes. Bounds are
/// generous: these tests run on a loaded two-core machine.
@discardableResult
public func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
