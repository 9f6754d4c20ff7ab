// A plain loop over one scenario, for tools that measure a whole process:
// `valgrind --tool=callgrind` (instructions per operation) and
// `strace -c -f` (syscalls per operation). The benchmarks proper are in
// Benchmarks/MonitordBenchmarks.
//
//   micro-driver SCENARIO [COUNT]
//
// Prints one line: scenario, count, wall and CPU per operation.
import MicroScenarios
import Reactor
import Supervision
#if canImport(Glibc)
import Glibc
#endif

let scenarios = [
    "none", "timer", "signal", "transition", "crash-cycle", "restart",
    "probe-null", "probe-ok", "probe-ok-1s", "probe-busy",
    "aplay-null", "aplay-ok", "aplay-busy",
]
let arguments = CommandLine.arguments
guard arguments.count >= 2, scenarios.contains(arguments[1]) else {
    print("usage: micro-driver SCENARIO [COUNT]\nscenarios: \(scenarios.joined(separator: " "))")
    exit(2)
}
let scenario = arguments[1]
let count = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        print("micro-driver: \(scenario): \(message())")
        exit(1)
    }
}

let probeScenarios: Set<String> = ["probe-null", "probe-ok", "probe-ok-1s", "probe-busy", "aplay-null", "aplay-ok", "aplay-busy"]
let rig: ProbeRig? = probeScenarios.contains(scenario) ? ProbeRig() : nil
if scenario.hasSuffix("busy") { rig?.set(.busy) }

var operation: () throws -> Void
switch scenario {
case "none":
    operation = {}
case "timer":
    let loop = try DispatchLoop()
    operation = { expect(try loop.timerEvent() == 1, "no expiration") }
case "signal":
    let loop = try DispatchLoop()
    operation = { expect(try loop.signalEvent() == UInt64(SIGUSR1), "no signal") }
case "transition":
    var transitions = Transitions()
    operation = { expect(transitions.forwardSignal() == 2, "unexpected actions") }
case "crash-cycle":
    var transitions = Transitions()
    operation = { _ = transitions.crashCycle() }
case "restart":
    let cycle = try RestartCycle()
    operation = { expect(try cycle.cycle() == 0, "/bin/true failed") }
case "probe-null", "probe-ok", "probe-ok-1s", "probe-busy":
    let device = scenario == "probe-null" ? "null" : ProbeRig.pcmName
    let duration: Duration = scenario == "probe-ok" ? .milliseconds(20) : .seconds(1)
    let wanted: ProbeProgress = scenario == "probe-busy"
        ? .failed(ProbeFailure(stage: .open, errno: EBUSY)) : .succeeded
    operation = {
        let (progress, _) = runProbe(PCMParameters(device: device, duration: duration))
        expect(progress == wanted, "\(progress)")
    }
default:  // aplay-*
    let device = scenario == "aplay-null" ? "null" : ProbeRig.pcmName
    let aplay = try AplayProbe(device: device)
    let wanted: Int32 = scenario == "aplay-busy" ? 1 : 0
    operation = { expect(try aplay.run() == wanted, "aplay exit status") }
}

let startWall = MonotonicInstant.now()
let startCPU = selfCPUMicroseconds()
let startChildren = childrenCPUMicroseconds()
for _ in 0..<count { try operation() }
let wall = Double((MonotonicInstant.now() - startWall).saturatingNanoseconds) / 1000 / Double(count)
let cpu = Double(selfCPUMicroseconds() - startCPU) / Double(count)
let children = Double(childrenCPUMicroseconds() - startChildren) / Double(count)
func format(_ value: Double) -> String { String(Int((value * 10).rounded())).withDecimal }
extension String {
    var withDecimal: String { count > 1 ? String(dropLast()) + "." + String(suffix(1)) : "0." + self }
}
print("\(scenario) x\(count): wall \(format(wall)) us/op, cpu \(format(cpu)) us/op, children cpu \(format(children)) us/op")
