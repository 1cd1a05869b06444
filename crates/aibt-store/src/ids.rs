//! Identifiers of new rows: 26 characters of Crockford base32 over a UUIDv7 (the ULID
//! layout), so ids sort by creation time, are safe in URLs and file names, and keep every
//! key that repeats them in an index short.

/// Crockford's base32 alphabet: no I, L, O or U; ascending in ASCII, so text order is
/// numeric order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new time-ordered identifier, e.g. `01JDX4R7Q8M3ZP6V2N9KTB5WCA`.
pub fn new_id() -> String {
    encode(uuid::Uuid::now_v7().as_u128())
}

fn encode(mut value: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_characters_and_sort_by_creation() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id();
        assert_eq!(first.len(), 26);
        assert!(first < second, "{first} {second}");
        assert!(first.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn encoding_is_big_endian_base32() {
        assert_eq!(encode(0), "0".repeat(26));
        assert_eq!(encode(31), format!("{}Z", "0".repeat(25)));
        assert_eq!(encode(u128::MAX), format!("7{}", "Z".repeat(25)));
    }
}
