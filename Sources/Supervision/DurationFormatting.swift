extension Duration {
    /// Human-facing form for log lines: `250 ms`, `2 s`, `1.5 s`, `4m12s`, `2h05m`.
    public var humanReadable: String {
        let totalMs = saturatingNanoseconds / 1_000_000
        if totalMs < 1000 {
            if totalMs == 0 && saturatingNanoseconds > 0 { return "<1 ms" }
            return "\(totalMs) ms"
        }
        let seconds = totalMs / 1000
        if seconds < 60 {
            let tenths = (totalMs % 1000) / 100
            return tenths == 0 ? "\(seconds) s" : "\(seconds).\(tenths) s"
        }
        if seconds < 3600 {
            return "\(seconds / 60)m\(twoDigits(seconds % 60))s"
        }
        return "\(seconds / 3600)h\(twoDigits((seconds % 3600) / 60))m"
    }

    private func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
