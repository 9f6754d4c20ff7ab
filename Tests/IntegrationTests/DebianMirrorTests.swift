import Foundation
import Testing
import TestSupport

/// scripts/lib/debian-mirror.bash: the project names no package mirror, so
/// the guest rig and qemu-user take the machine's from its apt
/// configuration, in both formats, and stop with one line naming the files
/// they read when there is none.
@Suite struct DebianMirrorTests {
    static let library = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/lib/debian-mirror.bash").path

    /// An /etc/apt of its own: FILE → contents (`$ETC` in them: its path).
    final class AptConfiguration {
        let path = TemporaryFiles.makeDirectory("apt")
        init(_ files: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: path + "/sources.list.d", withIntermediateDirectories: true)
            for (name, text) in files {
                try text.replacingOccurrences(of: "$ETC", with: path)
                    .write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
            }
        }
        deinit { TemporaryFiles.remove(path) }

        /// debian_mirror's exit status, stdout and stderr.
        func mirror() throws -> (Int32, String, String) {
            let run = try runCapturing(["/bin/bash", "-c", "source \"$0\" && debian_mirror \"$1\"",
                                        DebianMirrorTests.library, path])
            guard case .exited(let status) = run.ended else { return (-1, run.stdout, run.stderr) }
            return (status, run.stdout, run.stderr)
        }
    }

    @Test func deb822TakesTheFirstEnabledDebArchive() throws {
        let apt = try AptConfiguration(["sources.list.d/debian.sources": """
            Types: deb
            URIs: http://off.example/debian
            Enabled: no
            Suites: bookworm

            Types: deb-src
            URIs: http://sources.example/debian

            Types: deb
            # a comment line inside a stanza
            URIs: http://security.example/debian-security http://archive.example/debian/
            Suites: bookworm bookworm-updates
            """])
        let (status, output, error) = try apt.mirror()
        #expect(status == 0, "\(error)")
        #expect(output == "http://archive.example/debian\n")
    }

    @Test func oneLineEntriesSkipOptionsCommentsAndDebSrc() throws {
        let apt = try AptConfiguration([
            "sources.list": """
                # deb http://commented.example/debian bookworm main
                deb-src http://sources.example/debian bookworm main
                deb [ arch=amd64 signed-by=/usr/share/keyrings/k.gpg ] https://mirror.example/pub/debian bookworm main
                """,
            "sources.list.d/later.list": "deb http://later.example/debian bookworm main\n",
        ])
        let (status, output, _) = try apt.mirror()
        #expect(status == 0)
        #expect(output == "https://mirror.example/pub/debian\n")
    }

    @Test func aMirrorListFileStandsForItsFirstURI() throws {
        let apt = try AptConfiguration([
            "sources.list.d/debian.sources": "Types: deb\nURIs: mirror+file://$ETC/debian.list\nSuites: trixie\n",
            "debian.list": "# mirrors\nhttps://listed.example/debian\tpriority:1\n",
        ])
        let (status, output, _) = try apt.mirror()
        #expect(status == 0)
        #expect(output == "https://listed.example/debian\n")
    }

    @Test func noDebianArchiveIsOneLineNamingTheFilesRead() throws {
        let apt = try AptConfiguration(["sources.list.d/other.sources": "Types: deb\nURIs: http://ports.example/ubuntu\n"])
        let (status, output, error) = try apt.mirror()
        #expect(status == 1)
        #expect(output.isEmpty)
        #expect(error.split(separator: "\n").count == 1, "\(error)")
        #expect(error.contains("no Debian mirror"))
        #expect(error.contains(apt.path + "/sources.list.d/other.sources"))
    }

    @Test func noConfigurationAtAllSaysWhereItLooked() throws {
        let apt = try AptConfiguration([:])
        let (status, _, error) = try apt.mirror()
        #expect(status == 1)
        #expect(error.split(separator: "\n").count == 1, "\(error)")
        #expect(error.contains("none of \(apt.path)/sources.list, \(apt.path)/sources.list.d/*.list"))
    }
}
