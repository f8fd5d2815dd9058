import BatonCore

/// A lock or election name, validated and turned into its key prefix once, in one place.
///
/// The prefix is the client's raw key prefix, then the name with `%` and `/` percent-encoded, then
/// `/`. A plain name (no `/`, no `%`) keeps etcd's layout exactly — lock `jobs` uses keys
/// `jobs/<lease hex>`, as `etcdctl lock jobs` does — while a name can never fall under another's prefix:
/// lock `a` (keys `a/…`) never waits on holders of `a/b` (keys `a%2Fb/…`), the collision etcd's own
/// recipe has.
struct RecipeName: Hashable, Sendable {
    /// The name as the user gave it.
    let name: String
    /// Every waiter's key starts with this.
    let prefix: Key

    /// - Throws: `invalidArgument` for an empty name or one containing NUL.
    init(_ name: String, keyPrefix: String) throws {
        guard !name.isEmpty else { throw BatonError(.invalidArgument, "a lock or election name must not be empty") }
        guard !name.utf8.contains(0) else {
            throw BatonError(.invalidArgument, "a lock or election name must not contain NUL")
        }
        var escaped = ""
        for character in name.unicodeScalars {
            switch character {
            case "%": escaped += "%25"
            case "/": escaped += "%2F"
            default: escaped.unicodeScalars.append(character)
            }
        }
        self.name = name
        self.prefix = Key(keyPrefix + escaped + "/")
    }

    /// The key of the holder or candidate with `lease`.
    func key(for lease: LeaseID) -> Key { prefix.appending(lease.hex) }
}
