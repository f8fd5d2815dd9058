import BatonCore
import BatonEtcd

/// A parsed connection string: which backend to use and how to reach it.
///
/// - `local:` — an in-memory ``LocalStore``.
/// - `etcd:http://h1:2379,http://h2:2379?dial-timeout=2s&username=u&password=p` — a real etcd through
///   its JSON gateway.
///
/// Both accept `prefix=…`, a raw key prefix put in front of every lock and election key (for example
/// `prefix=/locks/`, so that lock `x` uses the keys of `etcdctl lock /locks/x`). etcd also accepts
/// `request-timeout`; `dial-keep-alive-time` and `dial-keep-alive-timeout` (see
/// ``EtcdConfiguration/keepAliveTime``; a time of `0s` turns the probes off); and, for users of Go's
/// etcd client, `auto-sync-interval` (a duration) and `reject-old-cluster` (a boolean), which are
/// validated and have no effect over HTTP.
public enum ConnectionString: Hashable, Sendable {
    case local(prefix: String)
    case etcd(EtcdConfiguration, prefix: String)

    /// Parses a connection string.
    /// - Throws: `unsupportedService` for an unknown scheme; `invalidConnectionString` for anything
    ///   else that is wrong (no endpoints, a malformed endpoint, an unknown option, a bad duration).
    public init(parsing string: String) throws {
        guard let colon = string.firstIndex(of: ":") else {
            throw BatonError(.invalidConnectionString, "'\(string)' has no scheme (expected local: or etcd:…)")
        }
        let scheme = String(string[..<colon])
        let rest = string[string.index(after: colon)...]
        let (body, query) =
            rest.firstIndex(of: "?").map { (String(rest[..<$0]), String(rest[rest.index(after: $0)...])) }
            ?? (String(rest), nil)
        var options = try ConnectionString.options(query, in: string)
        let prefix = options.removeValue(forKey: "prefix") ?? ""
        switch scheme {
        case "local":
            guard body.isEmpty else {
                throw BatonError(.invalidConnectionString, "local: takes no address, got '\(body)'")
            }
            try ConnectionString.rejectUnknown(options, in: string)
            self = .local(prefix: prefix)
        case "etcd":
            self = .etcd(try ConnectionString.etcd(body, options: options, in: string), prefix: prefix)
        default:
            throw BatonError(.unsupportedService, "unsupported service '\(scheme)' (expected local or etcd)")
        }
    }

    private static func etcd(_ body: String, options: [String: String], in string: String) throws -> EtcdConfiguration {
        var options = options
        let endpoints = body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !body.isEmpty else { throw BatonError(.invalidConnectionString, "'\(string)' names no endpoint") }
        for endpoint in endpoints where !isEndpoint(endpoint) {
            throw BatonError(.invalidConnectionString, "'\(endpoint)' is not an endpoint like http://127.0.0.1:2379")
        }
        var configuration = EtcdConfiguration(endpoints: endpoints)
        if let text = options.removeValue(forKey: "dial-timeout") {
            configuration.dialTimeout = try positiveDuration(text, option: "dial-timeout")
        }
        if let text = options.removeValue(forKey: "request-timeout") {
            configuration.requestTimeout = try positiveDuration(text, option: "request-timeout")
        }
        if let text = options.removeValue(forKey: "dial-keep-alive-time") {
            let time = try duration(text, option: "dial-keep-alive-time")
            configuration.keepAliveTime = time > .zero ? time : nil  // 0 turns the probes off, as in Go
        }
        if let text = options.removeValue(forKey: "dial-keep-alive-timeout") {
            configuration.keepAliveTimeout = try positiveDuration(text, option: "dial-keep-alive-timeout")
        }
        if let text = options.removeValue(forKey: "auto-sync-interval") {
            _ = try duration(text, option: "auto-sync-interval")
        }
        if let text = options.removeValue(forKey: "reject-old-cluster"), !["true", "false"].contains(text) {
            throw BatonError(.invalidConnectionString, "reject-old-cluster must be true or false, got '\(text)'")
        }
        configuration.username = options.removeValue(forKey: "username")
        configuration.password = options.removeValue(forKey: "password")
        if (configuration.username == nil) != (configuration.password == nil) {
            throw BatonError(.invalidConnectionString, "username and password go together")
        }
        try rejectUnknown(options, in: string)
        return configuration
    }

    private static func options(_ query: String?, in string: String) throws -> [String: String] {
        guard let query else { return [:] }
        var options: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw BatonError(.invalidConnectionString, "option '\(pair)' in '\(string)' is not name=value")
            }
            guard options.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                throw BatonError(.invalidConnectionString, "option '\(parts[0])' is given twice")
            }
        }
        return options
    }

    private static func rejectUnknown(_ options: [String: String], in string: String) throws {
        if let name = options.keys.sorted().first {
            throw BatonError(.invalidConnectionString, "unknown option '\(name)' in '\(string)'")
        }
    }

    private static func isEndpoint(_ text: String) -> Bool {
        let schemes = ["http://", "https://"]
        guard let scheme = schemes.first(where: text.hasPrefix) else { return false }
        let authority = text.dropFirst(scheme.count)
        guard let colon = authority.lastIndex(of: ":"), colon != authority.startIndex else { return false }
        let host = authority[..<colon], port = authority[authority.index(after: colon)...]
        guard !host.contains("/"), let number = Int(port), (1...65535).contains(number) else { return false }
        return true
    }

    private static func positiveDuration(_ text: String, option: String) throws -> Duration {
        let value = try duration(text, option: option)
        guard value > .zero else {
            throw BatonError(.invalidConnectionString, "\(option) must be positive, got '\(text)'")
        }
        return value
    }

    /// Parses a Go-style duration: `1h`, `1m30s`, `2s`, `1.5s`, `500ms`, `100us`, `10ns`.
    static func duration(_ text: String, option: String) throws -> Duration {
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var rest = Substring(text), total = 0.0
        let bad = BatonError(.invalidConnectionString, "\(option) '\(text)' is not a duration like 2s or 500ms")
        guard !rest.isEmpty else { throw bad }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unitText.count)
            guard let value = Double(number), let unit = units.first(where: { $0.0 == unitText }) else { throw bad }
            total += value * unit.1
        }
        guard total.isFinite, total < 1e12 else { throw bad }
        return .nanoseconds(Int64((total * 1e9).rounded()))
    }
}
