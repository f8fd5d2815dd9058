// swift-tools-version:6.0
import PackageDescription

// Baton has no package dependencies: only the toolchain (Foundation, Synchronization, Testing).
let package = Package(
    name: "Baton",
    products: [
        .library(name: "Baton", targets: ["Baton"]),
        .library(name: "BatonSimulation", targets: ["BatonSimulation"]),
        .executable(name: "baton", targets: ["baton"]),
    ],
    targets: [
        // Pure machines: MVCC keyspace, lease table, watch registry. Standard library only.
        .target(name: "BatonCore"),
        // Linux's epoll and thread naming, which the toolchain's Glibc module leaves out.
        .target(name: "CBatonEpoll"),
        // The etcd v3 JSON gateway client. The only module that imports FoundationNetworking.
        .target(name: "BatonEtcd", dependencies: ["BatonCore", "CBatonEpoll"]),
        // Runtime: environment, backend protocol, LocalStore, recipes, connection strings.
        .target(name: "Baton", dependencies: ["BatonCore", "BatonEtcd"]),
        // Seeded scheduler, simulated clock and network, faults, oracles, replay.
        .target(name: "BatonSimulation", dependencies: ["Baton"]),
        // The scenario catalogue run by `baton simulate` and by the tests.
        .target(name: "BatonScenarios", dependencies: ["Baton", "BatonSimulation"], path: "Simulations"),
        .executableTarget(name: "baton", dependencies: ["Baton", "BatonSimulation", "BatonScenarios"]),
        // Test support: starts and stops real etcd processes for the tests that need one.
        .target(name: "BatonTestSupport", dependencies: ["Baton", "BatonEtcd"], path: "Tests/BatonTestSupport"),
        .testTarget(name: "BatonCoreTests", dependencies: ["BatonCore"]),
        .testTarget(name: "BatonTests", dependencies: ["Baton", "BatonSimulation", "BatonTestSupport"]),
        .testTarget(name: "BatonEtcdTests", dependencies: ["Baton", "BatonEtcd", "BatonTestSupport"]),
        .testTarget(name: "BatonSimulationTests", dependencies: ["Baton", "BatonSimulation", "BatonScenarios"]),
    ],
    swiftLanguageModes: [.v6]
)
