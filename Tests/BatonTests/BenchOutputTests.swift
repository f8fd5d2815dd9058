import Foundation
import Testing

/// `baton bench` runs on a tiny size and prints well-formed lines. Figures are reported by the
/// benchmark, never asserted here.
///
/// An executable target cannot be imported by tests, so these run the `baton` binary built next to
/// the test bundle.
@Suite struct BenchOutputTests {
    @Test func localPrintsOneWellFormedJSONObjectPerLine() throws {
        let (status, lines) = try baton("bench", "local", "--size", "tiny", "--json")
        #expect(status == 0)
        var names: Set<String> = []
        for line in lines {
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let object = try #require(parsed as? [String: Any], "not a JSON object: \(line)")
            let name = try #require(object["name"] as? String, "no name: \(line)")
            names.insert(name)
            #expect(object["unit"] is String, "no unit: \(line)")
            let value = try #require((object["value"] as? NSNumber)?.doubleValue, "no value: \(line)")
            #expect(value.isFinite && value >= 0, "\(line)")
            if object["baseline"] != nil {
                #expect((object["ratio"] as? NSNumber)?.doubleValue.isFinite == true, "baseline without ratio: \(line)")
            }
        }
        let expected: Set = [
            "local.lock_unlock", "local.handoff", "local.contended", "local.session", "local.election_handoff",
            "local.memory",
        ]
        #expect(expected.isSubset(of: names), "missing: \(expected.subtracting(names).sorted())")
    }

    @Test func localPrintsATable() throws {
        let (status, lines) = try baton("bench", "local", "--size", "tiny", "--only", "local.lock_unlock,sim")
        #expect(status == 0)
        let header = try #require(lines.firstIndex { $0.hasPrefix("benchmark ") }, "no table header in \(lines)")
        let rows = lines[(header + 2)...]
        #expect(rows.contains { $0.hasPrefix("local.lock_unlock ") && $0.contains("cycles/s") })
        #expect(rows.contains { $0.hasPrefix("sim.jobs ") })
    }

    @Test func badArgumentsPrintUsage() throws {
        #expect(try baton("bench", "etcd").status == 2)  // no --endpoints: nothing is started
        #expect(try baton("bench", "local", "--size", "enormous").status == 2)
        #expect(try baton("bench").status == 2)
    }
}

/// Runs the `baton` binary built alongside the tests. - Returns: its exit status and stdout lines.
func baton(_ arguments: String...) throws -> (status: Int32, lines: [String]) {
    let tests = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let executable = URL(fileURLWithPath: tests).deletingLastPathComponent().appendingPathComponent("baton")
    try #require(
        FileManager.default.isExecutableFile(atPath: executable.path),
        "build the baton product first: \(executable.path)")
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    )
}
