/// Standard base64 with padding, as etcd's gateway writes bytes, decoded strictly.
///
/// The gateway answers `400 illegal base64 data` to unpadded or URL-safe input, and it always sends
/// canonical padded text; anything else in a response is a sign of a server that is not etcd, so
/// ``decode(_:)`` rejects it instead of guessing.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as padded standard base64.
    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 0x3f)])
            out.append(alphabet[Int(chunk >> 12 & 0x3f)])
            out.append(alphabet[Int(chunk >> 6 & 0x3f)])
            out.append(alphabet[Int(chunk & 0x3f)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let first = UInt32(bytes[index]) << 16
            let chunk = rest == 2 ? first | UInt32(bytes[index + 1]) << 8 : first
            out.append(alphabet[Int(chunk >> 18 & 0x3f)])
            out.append(alphabet[Int(chunk >> 12 & 0x3f)])
            out.append(rest == 2 ? alphabet[Int(chunk >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded standard base64; `nil` for anything else.
    ///
    /// Rejected: a length that is not a multiple of four, characters outside `A–Z a–z 0–9 + /`
    /// (so URL-safe text and whitespace), padding anywhere but the last one or two places, and
    /// non-zero bits hidden under the padding.
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var padding = 0
        if input.last == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2, input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let pad = isLast ? padding : 0
            var chunk: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if offset >= 4 - pad {
                    chunk <<= 6
                    continue
                }
                let value = values[Int(byte)]
                guard value != 0xff else { return nil }
                chunk = chunk << 6 | UInt32(value)
            }
            switch pad {
            case 0:
                out.append(UInt8(chunk >> 16 & 0xff))
                out.append(UInt8(chunk >> 8 & 0xff))
                out.append(UInt8(chunk & 0xff))
            case 1:
                guard chunk & 0xff == 0 else { return nil }
                out.append(UInt8(chunk >> 16 & 0xff))
                out.append(UInt8(chunk >> 8 & 0xff))
            default:
                guard chunk & 0xffff == 0 else { return nil }
                out.append(UInt8(chunk >> 16 & 0xff))
            }
            index += 4
        }
        return out
    }
}
