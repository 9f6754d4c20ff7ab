import CLibc

/// The supervision table's rows for an exit and a failed spawn: the backoff,
/// the reset after a healthy run, and the folding of identical exits at the cap.
extension SupervisionTable {
    mutating func childExited(
        pid: Int32, status: TerminationStatus, runTime: Duration, at now: MonotonicInstant,
        _ actions: inout SupervisionActions
    ) {
        defer { lastExit = status }
        if status.isSuccess && configuration.restart == .onFailure {
            finish(0, after: .finishedCleanly(pid: pid, runTime: runTime), &actions)
            return
        }
        // From here on an exit 0 (restart always) is treated as any other:
        // a short run is a fast failure, so a player that exits 0 at once
        // because its output is busy backs off instead of looping.
        if configuration.backoff.isHealthy(runTime: runTime) {
            consecutiveFailures = 0
            endFold(&actions)
            actions.append(.log(.exited(pid: pid, status: status, runTime: runTime, next: .now)))
            restart(after: .zero, at: now, &actions)
            return
        }
        consecutiveFailures += 1
        let delay = configuration.backoff.delay(afterFailure: consecutiveFailures)
        let backoff = configuration.backoff
        let repeatsAtCap = backoff.isCapped(afterFailure: consecutiveFailures)
            && backoff.isCapped(afterFailure: consecutiveFailures - 1)
            && lastExit == status
        if repeatsAtCap {
            if foldedSince == nil { foldedSince = now }
            foldedLastAt = now
            foldedCount += 1
            if foldedCount % configuration.foldEvery == 0 {
                actions.append(.log(.folded(status: status, count: foldedCount, over: now - foldedSince!, next: delay)))
            }
        } else {
            endFold(&actions)
            actions.append(.log(.exited(pid: pid, status: status, runTime: runTime,
                                        next: .after(delay, failure: consecutiveFailures))))
        }
        restart(after: delay, at: now, &actions)
    }

    mutating func spawnFailed(_ failure: SpawnFailure, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        if !hasStarted && failure.stage == .exec {
            // Like a shell: the command cannot run at all, so say so and stop.
            let code = (failure.errno == ENOENT || failure.errno == ENOTDIR) ? ExitCode.notFound : ExitCode.cannotExecute
            finish(code, after: .cannotExecute(failure), &actions)
            return
        }
        consecutiveFailures += 1
        endFold(&actions)
        let delay = configuration.backoff.delay(afterFailure: consecutiveFailures)
        actions.append(.log(.spawnFailed(failure, next: .after(delay, failure: consecutiveFailures))))
        restart(after: delay, at: now, &actions)
    }

    mutating func restart(after delay: Duration, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        restarts += 1
        if delay <= .zero {
            beginStart(at: now, &actions)
        } else {
            phase = .backingOff(until: now + delay)
            actions.append(.armDeadline(delay))
        }
    }

    /// Ends a fold. Exits folded since the last summary line are reported
    /// first, so that every exit is in the log (the line says how many in all).
    mutating func endFold(_ actions: inout SupervisionActions) {
        if foldedCount % configuration.foldEvery != 0, let since = foldedSince, let last = foldedLastAt, let status = lastExit {
            actions.append(.log(.folded(status: status, count: foldedCount, over: last - since, next: configuration.backoff.maximum)))
        }
        foldedCount = 0
        foldedSince = nil
        foldedLastAt = nil
    }
}
