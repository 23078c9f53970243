//! Token check. Compares UTF-8 bytes in constant time (the original compares Swift strings
//! with canonical equivalence and early exit, spec §8/§12.5).

/// True when `presented` equals `expected`, taking time independent of where they differ.
/// Only the length of `expected` can leak, which a token of reasonable length makes useless.
pub fn token_matches(expected: &[u8], presented: &[u8]) -> bool {
    let mut diff = (expected.len() ^ presented.len()) as u64;
    for (i, e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(0);
        diff |= (e ^ p) as u64;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_match_and_others_do_not() {
        assert!(token_matches(b"secret", b"secret"));
        assert!(!token_matches(b"secret", b"secreT"));
        assert!(!token_matches(b"secret", b"secret2"));
        assert!(!token_matches(b"secret", b"secre"));
        assert!(!token_matches(b"secret", b""));
    }

    #[test]
    fn canonically_equivalent_but_different_bytes_do_not_match() {
        // "é" precomposed vs "e" + combining acute: the original accepts both.
        assert!(!token_matches(
            "caf\u{e9}".as_bytes(),
            "cafe\u{301}".as_bytes()
        ));
    }
}
