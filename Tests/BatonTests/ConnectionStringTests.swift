import Baton
import BatonEtcd
import Testing

@Suite struct ConnectionStringTests {
    @Test func localParses() throws {
        #expect(try ConnectionString(parsing: "local:") == .local(prefix: ""))
        #expect(try ConnectionString(parsing: "local:?prefix=/locks/") == .local(prefix: "/locks/"))
    }

    @Test func etcdParsesEndpointsAndOptions() throws {
        let parsed = try ConnectionString(
            parsing:
                "etcd:http://127.0.0.1:2379,http://127.0.0.2:2379?dial-timeout=2s&request-timeout=1m30s&username=u&password=p"
        )
        var expected = EtcdConfiguration(endpoints: ["http://127.0.0.1:2379", "http://127.0.0.2:2379"])
        expected.dialTimeout = .seconds(2)
        expected.requestTimeout = .seconds(90)
        expected.username = "u"
        expected.password = "p"
        #expect(parsed == .etcd(expected, prefix: ""))
        let seed004 = try ConnectionString(
            parsing:
                "etcd:http://h:1?dial-timeout=500ms&auto-sync-interval=1m&dial-keep-alive-time=30s&dial-keep-alive-timeout=10s&reject-old-cluster=true"
        )
        guard case .etcd(let configuration, _) = seed004 else { Issue.record("not etcd"); return }
        #expect(configuration.dialTimeout == .milliseconds(500))
        #expect(configuration.keepAliveTime == .seconds(30))
        #expect(configuration.keepAliveTimeout == .seconds(10))
    }

    @Test func keepAliveProbesDefaultToEtcdctlsAndAZeroTimeTurnsThemOff() throws {
        guard case .etcd(let defaults, _) = try ConnectionString(parsing: "etcd:http://h:1") else {
            Issue.record("not etcd")
            return
        }
        #expect(defaults.keepAliveTime == .seconds(2))
        #expect(defaults.keepAliveTimeout == .seconds(6))
        guard case .etcd(let off, _) = try ConnectionString(parsing: "etcd:http://h:1?dial-keep-alive-time=0s") else {
            Issue.record("not etcd")
            return
        }
        #expect(off.keepAliveTime == nil)
    }

    @Test(arguments: [
        "etcd:", "etcd:?dial-timeout=2s", "etcd:http://h:1,", "etcd:h:2379", "etcd:http://h", "etcd:http://h:0",
        "etcd:http://h:1?dial-timeout=2", "etcd:http://h:1?dial-timeout=xs", "etcd:http://h:1?dial-timeout=-1s",
        "etcd:http://h:1?bogus=1", "etcd:http://h:1?username=u", "etcd:http://h:1?reject-old-cluster=maybe",
        "etcd:http://h:1?dial-timeout", "etcd:http://h:1?dial-timeout=1s&dial-timeout=2s", "local:somewhere",
        "local:?bogus=1", "nothing", "etcd:http://h:1?dial-keep-alive-timeout=0s",
        "etcd:http://h:1?dial-keep-alive-time=soon",
    ])
    func malformedStringsAreInvalid(_ string: String) {
        #expect {
            try ConnectionString(parsing: string)
        } throws: { ($0 as? BatonError)?.code == .invalidConnectionString }
    }

    @Test(arguments: ["redis://h:1", "consul:http://h:1", "zk:"])
    func unknownSchemesAreUnsupported(_ string: String) async {
        await expectBatonError(.unsupportedService) { try await BatonClient.connect(string) }
    }

    @Test func connectLocalGivesAWorkingClient() async throws {
        let client = try await BatonClient.connect("local:?prefix=/locks/")
        let session = try await client.session()
        let grant = try await session.mutex("x").lock()
        #expect(grant.key.description == "/locks/x/\(session.lease.hex)")
        try await grant.unlock()
        try await session.close()
        await client.close()
    }
}
