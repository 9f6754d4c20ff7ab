import Reactor

#if canImport(Glibc)
import Glibc
#endif

let exitCode = MonitordMain.run(arguments: Array(CommandLine.arguments.dropFirst()))
exit(exitCode)
