// monitord micro-benchmarks. Run: `cd Benchmarks && ./run-micro`
// or `swift package benchmark`. What each measures: Benchmarks/README.md.
import Benchmark
import MicroScenarios
import Reactor
#if canImport(Glibc)
import Glibc
#endif

let benchmarks: @Sendable () -> Void = {
    // CPU of the measuring thread (CLOCK_THREAD_CPUTIME_ID, ns resolution;
    // package-benchmark's cpuTotal comes from /proc in 10 ms ticks), the
    // children's (aplay's or /bin/true's user + system time, RUSAGE_CHILDREN),
    // and the two together.
    let threadCPU = BenchmarkMetric.custom("CPU, thread (ns)", polarity: .prefersSmaller, useScalingFactor: true)
    let childCPU = BenchmarkMetric.custom("child CPU (us)", polarity: .prefersSmaller, useScalingFactor: true)
    let totalCPU = BenchmarkMetric.custom("CPU incl. children (us)", polarity: .prefersSmaller, useScalingFactor: true)
    let wakeups = BenchmarkMetric.custom("probe wakeups", polarity: .prefersSmaller, useScalingFactor: true)

    // Zero allocations, enforced: `swift package benchmark thresholds check`
    // compares against Thresholds/*.p90.json (mallocCountTotal 0) with no
    // tolerance, and fails on any allocation.
    let noAllocations: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0]),
    ]

    // Not used: `instructions` (perf_event_open, which a VM often lacks; its
    // reader then still allocates 16 times inside the measured window),
    // `syscalls` (no Linux source in package-benchmark), and the /proc-based
    // OS metrics (cpuTotal in 10 ms ticks; they allocate inside the window
    // too). README.md has callgrind (instructions) and strace (syscalls)
    // numbers from micro-driver instead.
    let eventMetrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, threadCPU]

    Benchmark.defaultConfiguration = .init(
        metrics: eventMetrics,
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // MARK: Reactor dispatch

    Benchmark(
        "dispatch.timerfd",
        configuration: .init(scalingFactor: .kilo, maxIterations: 100)
    ) { benchmark in
        let loop = try DispatchLoop()  // on the measuring thread (SignalFD blocks per thread)
        let cpu = threadCPUNanoseconds()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try loop.timerEvent())
        }
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
    }

    Benchmark(
        "dispatch.signalfd",
        configuration: .init(scalingFactor: .kilo, maxIterations: 100)
    ) { benchmark in
        let loop = try DispatchLoop()
        let cpu = threadCPUNanoseconds()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try loop.signalEvent())
        }
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
    }

    // MARK: State machine (must not allocate)

    Benchmark(
        "transition.forward-signal",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal],
            scalingFactor: .kilo, maxIterations: 1_000, thresholds: noAllocations
        )
    ) { benchmark in
        // No explicit start/stop: Transitions() allocates nothing either,
        // and the explicit calls themselves are measured (16 mallocs).
        var transitions = Transitions()
        for _ in benchmark.scaledIterations {
            blackHole(transitions.forwardSignal())
        }
        blackHole(transitions.supervisor.phase)
    }

    Benchmark(
        "transition.crash-cycle",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal],
            scalingFactor: .kilo, maxIterations: 1_000, thresholds: noAllocations
        )
    ) { benchmark in
        var transitions = Transitions()
        for _ in benchmark.scaledIterations {
            blackHole(transitions.crashCycle())
        }
        blackHole(transitions.supervisor.restarts)
    }

    // MARK: Restart cycle

    Benchmark(
        "restart.bin-true",
        configuration: .init(
            metrics: eventMetrics + [childCPU],
            timeUnits: .microseconds, maxDuration: .seconds(3), maxIterations: 2_000
        )
    ) { benchmark in
        let cycle = try RestartCycle(["/bin/true"])
        let children = childrenCPUMicroseconds()
        let cpu = threadCPUNanoseconds()
        benchmark.startMeasurement()
        blackHole(try cycle.cycle())
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
        benchmark.measurement(childCPU, childrenCPUMicroseconds() - children)
    }

    // MARK: Readiness probe vs aplay

    let rig = ProbeRig()  // before any snd_* call: ALSA_CONFIG_PATH

    func probeBenchmark(_ name: String, device: String, mode: ProbeRig.Mode, duration: Duration,
                        expect wanted: ProbeProgress, maxIterations: Int, maxSeconds: Int64 = 3) {
        Benchmark(
            name,
            configuration: .init(
                metrics: [.wallClock, .mallocCountTotal, threadCPU, wakeups],
                timeUnits: .microseconds, warmupIterations: 1,
                maxDuration: .seconds(maxSeconds), maxIterations: maxIterations
            )
        ) { benchmark in
            rig.set(mode)
            let cpu = threadCPUNanoseconds()
            benchmark.startMeasurement()
            let (progress, count) = runProbe(PCMParameters(device: device, duration: duration))
            benchmark.stopMeasurement()
            benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
            precondition(progress == wanted, "\(name): \(progress)")
            benchmark.measurement(wakeups, count)
        }
    }

    func aplayBenchmark(_ name: String, device: String, mode: ProbeRig.Mode, expect wanted: Int32,
                        maxIterations: Int, maxSeconds: Int64 = 3) {
        Benchmark(
            name,
            configuration: .init(
                metrics: [.wallClock, .mallocCountTotal, threadCPU, childCPU, totalCPU],
                timeUnits: .microseconds, warmupIterations: 1,
                maxDuration: .seconds(maxSeconds), maxIterations: maxIterations
            )
        ) { benchmark in
            rig.set(mode)
            let aplay = try AplayProbe(device: device, seconds: 1)
            let children = childrenCPUMicroseconds()
            let own = threadCPUNanoseconds()
            benchmark.startMeasurement()
            let status = try aplay.run()
            benchmark.stopMeasurement()
            let parent = threadCPUNanoseconds() - own
            let child = childrenCPUMicroseconds() - children
            precondition(status == wanted, "\(name): aplay exited \(status)")
            benchmark.measurement(threadCPU, parent)
            benchmark.measurement(childCPU, child)
            benchmark.measurement(totalCPU, child + parent / 1_000)
        }
    }

    // Fast success: the plugin in `ok` mode, 20 ms of silence (a 10 ms
    // buffer, paced by the plugin's timerfd), and the null PCM (1 s, instant).
    probeBenchmark("probe.plugin-ok-20ms", device: ProbeRig.pcmName, mode: .ok,
                   duration: .milliseconds(20), expect: .succeeded, maxIterations: 200)
    probeBenchmark("probe.null-1s", device: "null", mode: .ok,
                   duration: .seconds(1), expect: .succeeded, maxIterations: 1_000)
    // The gate's steady state while a player holds the device.
    probeBenchmark("probe.plugin-busy", device: ProbeRig.pcmName, mode: .busy,
                   duration: .seconds(1), expect: .failed(ProbeFailure(stage: .open, errno: EBUSY)),
                   maxIterations: 1_000)
    // Like for like with `aplay -d 1`: 1 s of silence at real-time pace.
    probeBenchmark("probe.plugin-ok-1s", device: ProbeRig.pcmName, mode: .ok,
                   duration: .seconds(1), expect: .succeeded, maxIterations: 10, maxSeconds: 6)

    aplayBenchmark("aplay.null", device: "null", mode: .ok, expect: 0, maxIterations: 500)
    aplayBenchmark("aplay.plugin-busy", device: ProbeRig.pcmName, mode: .busy, expect: 1, maxIterations: 500)
    aplayBenchmark("aplay.plugin-ok", device: ProbeRig.pcmName, mode: .ok, expect: 0, maxIterations: 6, maxSeconds: 7)
}
