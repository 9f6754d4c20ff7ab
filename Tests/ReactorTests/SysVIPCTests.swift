@testable import Presentation
@testable import Reactor
import Testing

/// The /proc/sysvipc parsers (also fuzzed: Fuzz/FuzzSysvipc.swift).
@Suite struct SysVIPCTests {
    static let shm = """
               key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
              9220          3   666                 8584   118   118      0  1000  1000  1000  1000 1733342411 1733342415 1733342411                 12288                    0
             13316          4   666                 8584   300   301      2  1000  1000  1000  1000 1733342411          0 1733342411                 12288                    0
                -5          5   600                 4096     1     1      1     0     0     0     0          0          0          0                     0                    0

        """

    @Test func sharedMemoryRowsByHeaderName() {
        let rows = SysVIPC.sharedMemory(Array(Self.shm.utf8))
        #expect(rows == [
            SharedMemorySegment(key: 9220, id: 3, creatorPID: 118, lastPID: 118, attachments: 0, ownerUID: 1000),
            SharedMemorySegment(key: 13316, id: 4, creatorPID: 300, lastPID: 301, attachments: 2, ownerUID: 1000),
            SharedMemorySegment(key: -5, id: 5, creatorPID: 1, lastPID: 1, attachments: 1, ownerUID: 0),
        ])
        #expect(SysVIPC.hex(9220) == "0x00002404")
        #expect(SysVIPC.hex(-5) == "0xfffffffb")
    }

    @Test func semaphores() {
        let text = """
                   key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime
                  9220          2   666          3  1000  1000  1000  1000 1733342415 1733342411

            """
        #expect(SysVIPC.semaphores(Array(text.utf8)) == [SemaphoreSet(key: 9220, id: 2, count: 3, ownerUID: 1000)])
    }

    @Test func columnsMovedOrMissingAndBadRows() {
        // Another column order (by name, not position); a short row and a
        // non-numeric one are skipped; no header means nothing.
        let moved = "nattch key uid lpid cpid shmid\n0 77 5 9 8 1\n1 2\nx 78 5 9 8 1\n"
        #expect(SysVIPC.sharedMemory(Array(moved.utf8)) == [
            SharedMemorySegment(key: 77, id: 1, creatorPID: 8, lastPID: 9, attachments: 0, ownerUID: 5),
        ])
        #expect(SysVIPC.sharedMemory(Array("key shmid\n1 2\n".utf8)).isEmpty)
        #expect(SysVIPC.sharedMemory([]).isEmpty)
        #expect(SysVIPC.semaphores(Array("       key      semid perms      nsems   uid\n".utf8)).isEmpty)
        #expect(SysVIPC.sharedMemory(Array("nattch key uid lpid cpid shmid\n-1 77 5 9 8 1\n".utf8)).isEmpty)
    }

    @Test func theMachinesOwnFilesParse() {
        // Whatever is there: no crash, and the header is understood (a row per line).
        if let text = ProcEntries.contents("/proc/sysvipc/shm") {
            let lines = text.split(separator: 10).count
            #expect(SysVIPC.sharedMemory(text).count == lines - 1)
        }
    }
}
