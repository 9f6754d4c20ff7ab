import Foundation
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
    let key = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(info.st_ino))
    let locks = (try? String(contentsOfFile: "/proc/locks", encoding: .utf8)) ?? ""
    for line in locks.split(separator: "\n") {
        // `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5473723 0 EOF`; a waiter's
        // line has `->` in second place and holds nothing.
        let fields = line.split(separator: " ")
        if fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key { return true }
    }
    return false
}
