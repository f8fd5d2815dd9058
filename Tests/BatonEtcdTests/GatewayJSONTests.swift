import BatonCore
import Foundation
import Testing

@testable import BatonEtcd

/// The gateway's JSON on canned bodies, no server: the rules of `shared/etcd/WIRE.md`.
struct GatewayJSONTests {
    private func json(_ value: some Encodable) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: GatewayJSON.encode(value)) as? [String: Any])
    }

    private func data(_ text: String) -> Data { Data(text.utf8) }

    // MARK: Base64

    @Test func base64RoundTripsEveryLength() throws {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 97 + 200) }
            let text = Base64.encode(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(Base64.decode(text) == bytes)
        }
    }

    @Test(arguments: [
        "Zm9", "Zm9v=", "Zg", "Zg=", "Z===", "Zm-v", "Zm_v", "Zm9v\n", " Zm9v", "Zg==Zg==", "Zh==", "Zm9=",
    ])
    func base64RejectsAnythingButCanonicalPaddedStandard(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func unpaddedBytesInAResponseAreMalformed() throws {
        let body = data(#"{"header":{"revision":"2"},"kvs":[{"key":"Zm9v","value":"YmFyCg"}],"count":"1"}"#)
        let error = try #require(throws: BatonError.self) {
            try GatewayJSON.decode(WireRangeResponse.self, from: body)
        }
        #expect(error.code == .malformedResponse)
    }

    // MARK: Responses

    @Test func int64sArriveAsStringsAndNumbersAreAcceptedToo() throws {
        let body = data(
            #"{"header":{"revision":"17"},"kvs":[{"key":"YQ==","create_revision":3,"mod_revision":"9","version":"2","value":"eA==","lease":"2324035526059723019"}],"more":true,"count":"4"}"#
        )
        let response = try GatewayJSON.decode(WireRangeResponse.self, from: body).model(revision: 0)
        #expect(response.revision == 17)
        #expect(response.more)
        #expect(response.count == 4)
        #expect(
            response.kvs == [
                KeyValue(
                    key: "a", value: Array("x".utf8), createRevision: 3, modRevision: 9, version: 2,
                    lease: LeaseID(2_324_035_526_059_723_019))
            ])
    }

    @Test func omittedZeroValuesReadAsZero() throws {
        let empty = try GatewayJSON.decode(WireRangeResponse.self, from: data(#"{"header":{"revision":"5"}}"#))
        #expect(empty.model(revision: 0) == RangeResponse(revision: 5, kvs: [], more: false, count: 0))

        let bare = try GatewayJSON.decode(
            WireRangeResponse.self, from: data(#"{"header":{"revision":"5"},"kvs":[{"key":"YQ=="}],"count":"1"}"#))
        #expect(bare.model(revision: 0).kvs == [KeyValue(key: "a")])
        #expect(bare.model(revision: 0).kvs[0].lease == nil)

        let failed = try GatewayJSON.decode(
            WireTxnResponse.self,
            from: data(#"{"header":{"revision":"9"},"responses":[{"response_range":{"header":{"revision":"9"}}}]}"#))
        let txn = try failed.model(revision: 0)
        #expect(!txn.succeeded)
        #expect(txn.responses == [.range(RangeResponse(revision: 9, kvs: [], more: false, count: 0))])
    }

    @Test func wrongTypesAreMalformed() {
        for body in [
            #"{"header":{"revision":17}, "count":"four"}"#, #"{"header":{"revision":"1.5"}}"#,
            #"{"header":{"revision":"1"},"kvs":[{"key":5}]}"#, #"{"header":{"revision":"1"},"more":"yes"}"#,
            #"{"header":{"revision":"1"},"kvs":{"key":"YQ=="}}"#,
        ] {
            #expect(throws: BatonError.self, "\(body)") {
                try GatewayJSON.decode(WireRangeResponse.self, from: data(body))
            }
        }
    }

    @Test func malformedJSONIsMalformedResponse() throws {
        for body in ["", "not json", "{\"header\":", "<html>404</html>"] {
            let error = try #require(throws: BatonError.self) {
                try GatewayJSON.decode(WireRangeResponse.self, from: data(body))
            }
            #expect(error.code == .malformedResponse)
            #expect(error.cause != nil)
        }
    }

    @Test func nestedTxnResponsesDecode() throws {
        let body = data(
            #"{"header":{"revision":"17"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"17"},"prev_kv":{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1"}}},{"response_delete_range":{"header":{"revision":"17"},"deleted":"2"}},{"response_txn":{"header":{"revision":"17"},"responses":[{"response_range":{"header":{"revision":"17"},"kvs":[{"key":"Yg==","create_revision":"17","mod_revision":"17","version":"1","value":"MQ=="}],"count":"1"}}]}}]}"#
        )
        let txn = try GatewayJSON.decode(WireTxnResponse.self, from: body).model(revision: 0)
        #expect(txn.succeeded)
        #expect(txn.revision == 17)
        #expect(txn.responses.count == 3)
        #expect(
            txn.responses[0]
                == .put(
                    PutResponse(revision: 17, prevKV: KeyValue(key: "a", createRevision: 2, modRevision: 2, version: 1))
                ))
        #expect(txn.responses[1] == .deleteRange(DeleteRangeResponse(revision: 17, deleted: 2)))
        guard case .txn(let inner) = txn.responses[2] else {
            Issue.record("expected a nested txn response")
            return
        }
        #expect(!inner.succeeded)
        #expect(inner.responses.first?.range?.kvs.first?.valueString == "1")
    }

    @Test func aResponseOpWithoutExactlyOneResponseIsMalformed() throws {
        for op in ["{}", #"{"response_put":{},"response_range":{}}"#] {
            let wire = try GatewayJSON.decode(
                WireTxnResponse.self, from: data(#"{"header":{"revision":"3"},"responses":[\#(op)]}"#))
            #expect(throws: BatonError.self) { try wire.model(revision: 3) }
        }
    }

    // MARK: Requests

    @Test func rangeRequestSendsOnlyNonZeroFields() throws {
        #expect(try json(WireRangeRequest(RangeRequest(.key("foo")))) as NSDictionary == ["key": "Zm9v"])
        let full = try json(
            WireRangeRequest(
                RangeRequest(
                    .prefix("a/"), limit: 2, revision: 7, sortOrder: .descend, sortTarget: .create, keysOnly: true,
                    countOnly: true, maxCreateRevision: 9, minCreateRevision: 3, serializable: true)))
        #expect(
            full as NSDictionary == [
                "key": "YS8=", "range_end": "YTA=", "limit": "2", "revision": "7", "sort_order": "DESCEND",
                "sort_target": "CREATE", "keys_only": true, "count_only": true, "max_create_revision": "9",
                "min_create_revision": "3", "serializable": true,
            ])
    }

    @Test func keyRangesBecomeKeyAndRangeEnd() {
        func bounds(_ range: KeyRange) -> [String?] {
            let wire = range.wireBounds
            return [Base64.encode(wire.key), wire.rangeEnd.map(Base64.encode)]
        }
        #expect(bounds(.key("a")) == ["YQ==", nil])
        #expect(bounds(.prefix("a")) == ["YQ==", "Yg=="])
        #expect(bounds(.prefix("")) == ["AA==", "AA=="])
        #expect(bounds(.prefix(Key(bytes: [0x61, 0xff]))) == ["Yf8=", "Yg=="])
        #expect(bounds(.prefix(Key(bytes: [0xff]))) == ["/w==", "AA=="])
        #expect(bounds(.atLeast("b")) == ["Yg==", "AA=="])
        #expect(bounds(.atLeast("")) == ["AA==", "AA=="])
        #expect(bounds(.interval("a", "c")) == ["YQ==", "Yw=="])
        #expect(bounds(.interval("a", "")) == ["YQ==", "YQ=="])
    }

    @Test func putAndDeleteRequests() throws {
        #expect(try json(WirePutRequest(PutRequest(key: "k"))) as NSDictionary == ["key": "aw=="])
        #expect(
            try json(WirePutRequest(PutRequest(key: "k", value: Array("v".utf8), lease: LeaseID(12), prevKV: true)))
                as NSDictionary == ["key": "aw==", "value": "dg==", "lease": "12", "prev_kv": true])
        #expect(
            try json(WireDeleteRangeRequest(DeleteRangeRequest(.prefix("k"), prevKV: true))) as NSDictionary == [
                "key": "aw==", "range_end": "bA==", "prev_kv": true,
            ])
    }

    @Test func txnCompareTargetsAndNestedOps() throws {
        let request = TxnRequest(
            compare: [
                Compare("a", .createRevision(0), .equal), Compare("b", .modRevision(5), .less),
                Compare("c", .version(2), .greater), Compare("d", .value([]), .notEqual),
                Compare("e", .lease(nil), .equal), Compare("f", .lease(LeaseID(7)), .equal),
                Compare(.prefix("g/"), .createRevision(0), .equal),
            ],
            success: [
                .put(PutRequest(key: "a")), .txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(.key("b")))])),
            ],
            failure: [.range(RangeRequest(.key("a")))])
        let object = try json(WireTxnRequest(request))
        let compares = try #require(object["compare"] as? [[String: Any]])
        #expect(
            compares[0] as NSDictionary == [
                "result": "EQUAL", "target": "CREATE", "key": "YQ==", "create_revision": "0",
            ])
        #expect(compares[1] as NSDictionary == ["result": "LESS", "target": "MOD", "key": "Yg==", "mod_revision": "5"])
        #expect(
            compares[2] as NSDictionary == ["result": "GREATER", "target": "VERSION", "key": "Yw==", "version": "2"])
        #expect(compares[3] as NSDictionary == ["result": "NOT_EQUAL", "target": "VALUE", "key": "ZA==", "value": ""])
        #expect(compares[4] as NSDictionary == ["result": "EQUAL", "target": "LEASE", "key": "ZQ==", "lease": "0"])
        #expect(compares[5]["lease"] as? String == "7")
        #expect(
            compares[6] as NSDictionary == [
                "result": "EQUAL", "target": "CREATE", "key": "Zy8=", "range_end": "ZzA=", "create_revision": "0",
            ])
        let success = try #require(object["success"] as? [[String: Any]])
        #expect(success[0] as NSDictionary == ["request_put": ["key": "YQ=="]])
        #expect(
            success[1] as NSDictionary == [
                "request_txn": ["success": [["request_delete_range": ["key": "Yg=="]]]]
            ])
        #expect(object["failure"] as? NSArray == [["request_range": ["key": "YQ=="]]])
        #expect(try json(WireTxnRequest(TxnRequest())) as NSDictionary == [:])
    }

    /// The hand-written bodies describe the same objects as the types' `Encodable` forms.
    @Test func handWrittenBodiesMatchTheirEncodableForms() throws {
        func encoded(_ value: some Encodable) throws -> NSDictionary {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return try #require(JSONSerialization.jsonObject(with: encoder.encode(value)) as? NSDictionary)
        }
        func written(_ value: some GatewayJSONWritable) throws -> NSDictionary {
            var writer = GatewayJSONWriter()
            value.write(to: &writer)
            return try #require(JSONSerialization.jsonObject(with: Data(writer.bytes)) as? NSDictionary)
        }
        let everyRange = RangeRequest(
            .prefix("a/"), limit: 2, revision: 7, sortOrder: .ascend, sortTarget: .mod, keysOnly: true,
            countOnly: true, maxCreateRevision: 9, minCreateRevision: 3, serializable: true)
        let request = TxnRequest(
            compare: [
                Compare("a", .createRevision(0), .equal), Compare("b", .modRevision(5), .less),
                Compare("c", .version(2), .greater), Compare("d", .value([1, 2]), .notEqual),
                Compare("e", .lease(LeaseID(7)), .equal),
            ],
            success: [
                .range(everyRange), .put(PutRequest(key: "p", value: [0, 255], lease: LeaseID(9), prevKV: true)),
                .txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(.prefix("q"), prevKV: true))])),
            ],
            failure: [.range(RangeRequest(.key("a"))), .txn(TxnRequest())])
        #expect(try written(WireTxnRequest(request)) == encoded(WireTxnRequest(request)))
        #expect(try written(WireTxnRequest(TxnRequest())) == [:])
        for watch in [
            WireWatchRequest(range: .prefix("a"), startRevision: 0, prevKV: false),
            WireWatchRequest(range: .key("a"), startRevision: 12, prevKV: true),
        ] {
            #expect(try written(watch) == encoded(watch))
        }
        #expect(
            String(decoding: GatewayJSON.encode(WirePutRequest(PutRequest(key: "k"))), as: UTF8.self)
                == #"{"key":"aw=="}"#)
    }

    @Test func leaseAndWatchRequests() throws {
        #expect(try json(WireLeaseGrantRequest(ttl: WireInt64(30), id: nil)) as NSDictionary == ["TTL": "30"])
        #expect(
            try json(WireLeaseGrantRequest(ttl: WireInt64(30), id: WireInt64(2_324_035_526_059_723_019)))
                as NSDictionary == ["TTL": "30", "ID": "2324035526059723019"])
        #expect(
            try json(WireWatchRequest(range: .prefix("a"), startRevision: 0, prevKV: false)) as NSDictionary == [
                "create_request": ["key": "YQ==", "range_end": "Yg=="]
            ])
        #expect(
            try json(WireWatchRequest(range: .key("a"), startRevision: 12, prevKV: true)) as NSDictionary == [
                "create_request": ["key": "YQ==", "start_revision": "12", "prev_kv": true]
            ])
    }

    // MARK: Watch frames

    @Test func watchFrames() throws {
        func frame(_ text: String) throws -> WatchFrame { try WatchFrame.decode(Array(text.utf8)) }
        #expect(try frame(#"{"result":{"header":{"revision":"2"},"created":true}}"#) == .created(revision: 2))
        #expect(
            try frame(
                #"{"result":{"header":{"revision":"8"},"events":[{"kv":{"key":"YQ==","create_revision":"7","mod_revision":"8","version":"2","value":"Mg=="},"prev_kv":{"key":"YQ==","create_revision":"7","mod_revision":"7","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"Yg==","mod_revision":"8"}}]}}"#
            )
                == .events(
                    WatchResponse(
                        revision: 8,
                        events: [
                            WatchEvent(
                                kind: .put,
                                kv: KeyValue(
                                    key: "a", value: Array("2".utf8), createRevision: 7, modRevision: 8, version: 2),
                                prevKV: KeyValue(
                                    key: "a", value: Array("1".utf8), createRevision: 7, modRevision: 7, version: 1)),
                            WatchEvent(kind: .delete, kv: KeyValue(key: "b", modRevision: 8)),
                        ])))
        #expect(
            try frame(#"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"7"}}"#)
                == .canceled(compactRevision: 7, reason: ""))
        #expect(
            try frame(
                #"{"result":{"header":{"revision":"1"},"watch_id":"-1","created":true,"canceled":true,"cancel_reason":"rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"}}"#
            )
                == .canceled(
                    compactRevision: 0,
                    reason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"))
        #expect(
            try frame(
                #"{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing","http_status":"Service Unavailable"}}"#
            )
                == .error(grpcCode: 14, message: "transport is closing"))
        #expect(throws: BatonError.self) { try frame(#"{"result":{"events":[]}}"#) }
        #expect(throws: BatonError.self) { try frame(#"{"something":"else"}"#) }
        #expect(throws: BatonError.self) {
            try frame(#"{"result":{"header":{"revision":"3"},"events":[{"type":"EXPLODE","kv":{"key":"YQ=="}}]}}"#)
        }
    }

    // MARK: Errors

    @Test func errorBodiesMapToCodes() {
        func code(_ status: Int, _ body: String) -> BatonError.Code {
            GatewayStatus.error(httpStatus: status, body: Data(body.utf8)).code
        }
        func etcd(_ grpc: Int, _ message: String) -> String {
            #"{"error":"\#(message)","message":"\#(message)","code":\#(grpc)}"#
        }
        #expect(code(400, etcd(11, "etcdserver: mvcc: required revision has been compacted")) == .compacted)
        #expect(code(400, etcd(11, "etcdserver: mvcc: required revision is a future revision")) == .futureRevision)
        #expect(code(400, etcd(11, "etcdserver: too large lease TTL")) == .invalidArgument)
        #expect(code(400, etcd(3, "etcdserver: key is not provided")) == .invalidArgument)
        #expect(code(400, etcd(3, "etcdserver: duplicate key given in txn request")) == .duplicateKey)
        #expect(
            code(400, etcd(3, "etcdserver: authentication failed, invalid user ID or password"))
                == .authenticationFailed)
        #expect(code(404, etcd(5, "etcdserver: requested lease not found")) == .leaseNotFound)
        #expect(code(412, etcd(9, "etcdserver: lease already exists")) == .leaseExists)
        #expect(code(401, etcd(16, "etcdserver: invalid auth token")) == .authenticationFailed)
        #expect(code(503, etcd(14, "etcdserver: request timed out")) == .unavailable)
        // Seen here for a 2 MB lock name: a caller's mistake, not a server that is down.
        #expect(
            code(429, etcd(8, "grpc: received message larger than max (6000059 vs. 2097152)")) == .invalidArgument)
        #expect(code(429, etcd(8, "etcdserver: too many requests")) == .unavailable)
        #expect(code(400, etcd(3, "etcdserver: request is too large")) == .invalidArgument)
        #expect(code(404, "404 page not found") == .malformedResponse)
        #expect(code(405, "Method Not Allowed") == .malformedResponse)
        #expect(code(502, "<html>bad gateway</html>") == .unavailable)
        let error = GatewayStatus.error(
            httpStatus: 404, body: Data(etcd(5, "etcdserver: requested lease not found").utf8))
        #expect(
            (error.cause as? GatewayStatus)
                == GatewayStatus(httpStatus: 404, grpcCode: 5, message: "etcdserver: requested lease not found"))
    }

    @Test func watchCancelReasonsCarryTheirGRPCCode() {
        #expect(
            GatewayStatus.watchCancel(reason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token")
                .isInvalidToken)
        let denied = GatewayStatus.watchCancel(
            reason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
        #expect(denied.grpcCode == 7)
        #expect(denied.message == "etcdserver: permission denied")
        #expect(denied.batonError.code == .authenticationFailed)
    }

    // MARK: Watch cursor

    @Test func watchCursorResumesAfterTheLastDeliveredEvent() {
        var fromNow = WatchCursor(startRevision: nil)
        #expect(fromNow.startRevision == 0)
        fromNow.created(at: 41)
        #expect(fromNow.startRevision == 42)
        fromNow.delivered(
            WatchResponse(revision: 50, events: [WatchEvent(kind: .put, kv: KeyValue(key: "a", modRevision: 45))]))
        #expect(fromNow.startRevision == 46)
        // A header-only frame (or a catch-up batch's header) does not move the cursor.
        fromNow.delivered(WatchResponse(revision: 60, events: []))
        #expect(fromNow.startRevision == 46)
        fromNow.created(at: 70)
        #expect(fromNow.startRevision == 46)

        var fromPast = WatchCursor(startRevision: 5)
        fromPast.created(at: 30)
        #expect(fromPast.startRevision == 5)
        #expect(WatchCursor(startRevision: 0).startRevision == 0)
    }

    @Test func watchCursorBacksOffAndResetsWhenCreated() {
        var cursor = WatchCursor(startRevision: nil)
        cursor.created(at: 1)
        let delays = (0..<7).map { _ in cursor.dropped() }
        #expect(
            delays == [
                .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                .seconds(1), .seconds(1),
            ])
        let first = cursor.tokenRejected()
        let second = cursor.tokenRejected()
        #expect(first && !second)
        cursor.created(at: 2)
        let delay = cursor.dropped()
        let third = cursor.tokenRejected()
        #expect(delay == .milliseconds(50) && third)
    }

    // MARK: Configuration

    @Test func configurationIsValidatedWithoutNetwork() throws {
        func check(_ configuration: EtcdConfiguration) throws -> BatonError.Code? {
            do {
                _ = try EtcdGateway(configuration: configuration)
                return nil
            } catch let error as BatonError {
                return error.code
            }
        }
        #expect(
            try check(EtcdConfiguration(endpoints: ["http://127.0.0.1:2379", "http://h:1/", "http://[::1]:2379"]))
                == nil)
        #expect(try check(EtcdConfiguration(endpoints: ["https://h:1"])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: [])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["127.0.0.1:2379"])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["unix:///tmp/x"])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["http://h:1/v3"])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["http://u:p@h:1"])) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["http://h:1"], dialTimeout: .zero)) == .invalidArgument)
        #expect(
            try check(EtcdConfiguration(endpoints: ["http://h:1"], requestTimeout: .seconds(-1))) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["http://h:1"], username: "root")) == .invalidArgument)
        #expect(try check(EtcdConfiguration(endpoints: ["http://h:1"], username: "", password: "")) == .invalidArgument)
    }

    @Test func grantLeaseChecksTheTTLBeforeSending() async throws {
        // Port 9 on loopback: nothing listens, but nothing is sent either.
        let gateway = try EtcdGateway(configuration: EtcdConfiguration(endpoints: ["http://127.0.0.1:9"]))
        for ttl: Int64 in [0, -5, maximumLeaseTTL + 1] {
            await #expect(throws: BatonError.self) { _ = try await gateway.grantLease(ttl: ttl, id: nil) }
            do {
                _ = try await gateway.grantLease(ttl: ttl, id: nil)
            } catch let error as BatonError {
                #expect(error.code == .invalidArgument)
            }
        }
        await gateway.close()
    }
}
