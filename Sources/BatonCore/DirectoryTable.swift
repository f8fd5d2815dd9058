/// The directories of the live keys (see ``Keyspace``): each has an ID, which places its run in the
/// create index, and a count of the live keys under it, which is the `count` of a read of it.
///
/// Create-index positions carry a directory's ID rather than its bytes, so walking the index compares
/// integers. Comparing bytes meant reading, at every level of the tree, a key's bytes from their own
/// heap buffer; with 100,000 queued waiters those buffers are cold, and a handoff walks the index
/// three times.
///
/// A directory keeps its entry when its last key goes, because a lock taken and released over and over
/// empties and refills its directory every time. Empty entries are dropped all at once when they are
/// more than a thousand and outnumber the others, so the table stays proportional to the directories
/// that hold keys. IDs count up and are never reused: a dropped directory that comes back gets a new
/// one, and no position of its old ID is left in the index.
struct DirectoryTable: Sendable {
    struct Entry: Equatable, Sendable {
        /// The directory's bytes.
        var directory: Key
        /// How many live keys are under it.
        var keys: Int
    }

    private var ids: [Key: Int64] = [:]
    private var entries = IDTable<Entry>()
    private var nextID: Int64 = 0
    /// How many entries hold no keys.
    private var empty = 0
    /// The directory looked up last. A lock's keys, a queue's waiters and an election's candidates are
    /// all in one directory, so most lookups end here, without building the directory's key or
    /// hashing it.
    private var recent: (directory: Key, id: Int64)?

    /// How many directories have an entry, with keys or without.
    var count: Int { entries.count }

    /// The ID of the directory that is `key`'s first `length` bytes, if that directory is known.
    private func id(ofDirectoryOf key: Key, length: Int) -> Int64? {
        if let recent, recent.directory.bytes.count == length,
            key.order(ofPrefix: length, comparedWith: recent.directory) == 0
        {
            return recent.id
        }
        guard length == key.bytes.count else { return ids[Key(bytes: Array(key.bytes[..<length]))] }
        return ids[key]
    }

    /// The ID and key count of `directory`, or nil when no live key is under it.
    func lookUp(_ directory: Key) -> (id: Int64, keys: Int)? {
        guard let id = id(ofDirectoryOf: directory, length: directory.bytes.count),
            let entry = entries[id], entry.keys > 0
        else { return nil }
        return (id, entry.keys)
    }

    /// Counts a new live key under the directory that is `key`'s first `length` bytes, giving the
    /// directory an ID if it has none. - Returns: the directory's ID.
    mutating func enter(_ key: Key, directoryLength length: Int) -> Int64 {
        if let id = id(ofDirectoryOf: key, length: length), let keys = count(by: 1, in: id) {
            if keys == 1 { empty -= 1 }
            if recent?.id != id, let entry = entries[id] { recent = (entry.directory, id) }
            return id
        }
        nextID += 1
        let directory = Key(bytes: Array(key.bytes[..<length]))
        ids[directory] = nextID
        entries.insert(Entry(directory: directory, keys: 1), for: nextID)
        recent = (directory, nextID)
        return nextID
    }

    /// Stops counting a live key under the directory that is `key`'s first `length` bytes.
    /// - Returns: the directory's ID.
    mutating func leave(_ key: Key, directoryLength length: Int) -> Int64 {
        guard let id = id(ofDirectoryOf: key, length: length), let keys = count(by: -1, in: id) else {
            preconditionFailure("a live key's directory has an entry")
        }
        if keys == 0 {
            empty += 1
            if empty > 1_024 && empty > entries.count - empty { dropEmpty() }
        }
        return id
    }

    /// Adds `change` to the key count of directory `id`. - Returns: the new count, nil without an entry.
    private mutating func count(by change: Int, in id: Int64) -> Int? {
        entries.modifyValue(for: id) { entry in
            entry.keys += change
            return entry.keys
        }
    }

    /// Drops every entry without keys.
    private mutating func dropEmpty() {
        for (id, entry) in entries.entries where entry.keys == 0 {
            entries.removeValue(for: id)
            ids.removeValue(forKey: entry.directory)
        }
        empty = 0
        recent = nil
    }
}
