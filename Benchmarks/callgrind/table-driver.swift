// table-driver: the pure Supervision table in a plain loop, for callgrind,
// built from this one file with both compilers by Benchmarks/callgrind.sh
// (the full toolchain, and Embedded Swift as scripts/build-release builds
// the Supervision module). The same two scenarios as micro-driver's
// `transition` and `crash-cycle`: Benchmarks/Sources/MicroScenarios/
// Transitions.swift is compiled in beside this file (it needs neither
// Reactor, CommandLine nor Glibc, which Embedded Swift does not have):
//
//   TABLE_SCENARIO=transition|crash-cycle TABLE_COUNT=N [TABLE_TIME=1] table-driver
//
// Instructions per operation = (Ir(N) - Ir(1)) / (N - 1). With TABLE_TIME=1
// it also prints the loop's thread CPU time per operation in picoseconds
// (callgrind counts `rep movsb` once per byte; this is the check in time).
import CLibc
import Supervision

func environment(_ name: String, default value: Int) -> Int {
    guard let raw = getenv(name) else { return value }
    return Int(atol(raw))
}

func run() -> Int {
    let crash = getenv("TABLE_SCENARIO").map { strcmp($0, "crash-cycle") == 0 } ?? false
    let count = environment("TABLE_COUNT", default: 1)
    var transitions = Transitions()
    var actions = 0
    var t0 = timespec(), t1 = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0)
    for _ in 0..<count {
        actions += crash ? transitions.crashCycle() : transitions.forwardSignal()
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1)
    if getenv("TABLE_TIME") != nil {
        let ns = (Int(t1.tv_sec) - Int(t0.tv_sec)) * 1_000_000_000 + Int(t1.tv_nsec) - Int(t0.tv_nsec)
        print("ps/op \(ns * 1000 / count)")
    }
    return actions
}

print(run())
