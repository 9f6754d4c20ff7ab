import Glibc

/// Whether some process holds a flock() on `path`, read from /proc/locks.
/// The check never takes the lock itself: taking it, even for an instant,
/// makes a player that opens the device at that moment fail with EBUSY (and
/// its supervisor restart it, which a test then saw as a dead child).
public func isFlocked(_ path: String) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0 else { return false }
    // /proc/locks names a file as MAJOR:MINOR:INODE, the numbers as the
    // kernel's MAJOR()/MINOR() of the superblock's dev_t, printed %02x.
    let device = UInt64(info.st_dev)
    let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
    let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
    let key = "\(twoHexDigits(major)):\(twoHexDigits(minor)):\(info.st_ino)"
    for line in readProcLocks().split(separator: "\n") {
        // `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5473723 0 EOF`; a waiter's
        // line has `->` in second place and holds nothing.
        let fields = line.split(separator: " ")
        if fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key { return true }
    }
    return false
}

private func twoHexDigits(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return digits.count < 2 ? "0" + digits : digits
}

private func readProcLocks() -> String {
    let fd = open("/proc/locks", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
