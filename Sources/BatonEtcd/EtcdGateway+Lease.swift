import BatonCore
import Foundation

extension EtcdGateway {
    /// GrantLease creates a lease of `ttl` seconds (`POST /v3/lease/grant`); `id` nil lets etcd
    /// choose the ID.
    ///
    /// etcd raises small TTLs to its minimum (about 2 s); the granted TTL is returned.
    ///
    /// - Throws: `BatonError` with `invalidArgument` for a `ttl` outside `1...maximumLeaseTTL` (checked
    ///   before anything is sent); `leaseExists` when `id` is taken; `unavailable`, `timeout`,
    ///   `malformedResponse`, `authenticationFailed`, `alreadyClosed`; `CancellationError`.
    public func grantLease(ttl: Int64, id: LeaseID?) async throws -> LeaseGrant {
        guard (1...maximumLeaseTTL).contains(ttl) else {
            throw BatonError(.invalidArgument, "lease TTL \(ttl) is outside 1...\(maximumLeaseTTL) seconds")
        }
        let request = WireLeaseGrantRequest(ttl: WireInt64(ttl), id: id.flatMap { WireInt64.nonZero($0.rawValue) })
        let response = try await call("/v3/lease/grant", request, as: WireLeaseGrantResponse.self, idempotent: false)
        _ = try Self.revision(response.header, of: "lease grant")
        if let error = response.error, !error.isEmpty {
            throw BatonError(.invalidArgument, "etcd refused the lease grant: \(error)")
        }
        guard let granted = response.id?.value, granted != 0 else {
            throw BatonError(.malformedResponse, "the lease grant reply has no ID")
        }
        return LeaseGrant(id: LeaseID(granted), ttl: response.ttl?.value ?? ttl)
    }

    /// KeepAliveLease renews a lease once (one `POST /v3/lease/keepalive`) and returns its TTL.
    ///
    /// etcd answers a lease that expired or never existed with HTTP 200 and no `TTL`; that is
    /// reported as `leaseNotFound`. Idempotent: tried on the next endpoint if the connection broke.
    ///
    /// - Throws: `BatonError` with `leaseNotFound` when the lease is gone; `unavailable`, `timeout`,
    ///   `malformedResponse`, `authenticationFailed`, `alreadyClosed`; `CancellationError`.
    public func keepAliveLease(_ id: LeaseID) async throws -> Int64 {
        let body = GatewayJSON.encode(WireLeaseIDRequest(id: WireInt64(id.rawValue)))
        let reply = try await post("/v3/lease/keepalive", body, idempotent: true)
        guard reply.status == 200 else { throw GatewayStatus.error(httpStatus: reply.status, body: reply.body) }
        // A stream that answers with one line: {"result":…} or {"error":…}.
        guard let line = reply.body.split(separator: UInt8(ascii: "\n")).first else {
            throw BatonError(.malformedResponse, "the lease keep-alive reply is empty")
        }
        let wire = try GatewayJSON.decode(WireStreamLine<WireLeaseKeepAliveResponse>.self, from: Data(line))
        if let error = wire.error {
            let status = GatewayStatus(
                httpStatus: error.httpCode ?? reply.status, grpcCode: error.grpcCode ?? 2, message: error.message ?? "")
            throw status.batonError
        }
        guard let result = wire.result else {
            throw BatonError(.malformedResponse, "the lease keep-alive reply has neither result nor error")
        }
        _ = try Self.revision(result.header, of: "lease keep-alive")
        guard let ttl = result.ttl?.value, ttl > 0 else {
            throw BatonError(.leaseNotFound, "lease \(id) was not found (expired or revoked)")
        }
        return ttl
    }

    /// RevokeLease revokes a lease (`POST /v3/lease/revoke`), deleting its keys in one revision.
    ///
    /// - Throws: `BatonError` with `leaseNotFound` when the lease does not exist; `unavailable`,
    ///   `timeout`, `malformedResponse`, `authenticationFailed`, `alreadyClosed`; `CancellationError`.
    public func revokeLease(_ id: LeaseID) async throws {
        let response = try await call(
            "/v3/lease/revoke", WireLeaseIDRequest(id: WireInt64(id.rawValue)), as: WireHeaderOnlyResponse.self,
            idempotent: false)
        _ = try Self.revision(response.header, of: "lease revoke")
    }

    /// LeaseTimeToLive reads a lease's remaining and granted TTL and, when `keys` is true, its keys
    /// (`POST /v3/lease/timetolive`).
    ///
    /// etcd answers an unknown lease with TTL -1; that is reported as `leaseNotFound`.
    ///
    /// - Throws: `BatonError` with `leaseNotFound`; otherwise as ``keepAliveLease(_:)``.
    public func leaseTimeToLive(_ id: LeaseID, keys: Bool) async throws -> LeaseTimeToLive {
        let request = WireLeaseTimeToLiveRequest(id: WireInt64(id.rawValue), keys: keys ? true : nil)
        let response = try await call(
            "/v3/lease/timetolive", request, as: WireLeaseTimeToLiveResponse.self, idempotent: true)
        _ = try Self.revision(response.header, of: "lease timetolive")
        let ttl = response.ttl?.value ?? 0
        guard ttl >= 0 else { throw BatonError(.leaseNotFound, "lease \(id) was not found (expired or revoked)") }
        return LeaseTimeToLive(
            id: id, ttl: ttl, grantedTTL: response.grantedTTL?.value ?? 0,
            keys: (response.keys ?? []).map { Key(bytes: $0.bytes) }.sorted())
    }
}
