// `baton`: the command-line tool. Each command lives in its own file.
#if canImport(Glibc)
    import Glibc
#endif
let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
switch arguments.first {
case "simulate": status = await runSimulate(Array(arguments.dropFirst()))
case "bench": status = await runBench(Array(arguments.dropFirst()))
case "counter", nil: status = await runCounter(Array(arguments.dropFirst()))
default:
    print("usage: baton [counter|simulate|bench] ...")
    status = 2
}
exit(status)
