//! Static canonical Huffman codes: lengths from a histogram (limited to [`MAX_LEN`] bits),
//! their serialisation, the encoder's code table and the decoder's one-lookup table.
//!
//! Codes are canonical (shorter first, then by symbol) and written least significant bit
//! first, so the decoder indexes its table with the next [`MAX_LEN`] bits of the stream as
//! they come, and every table entry is valid: the lengths must form a complete code.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Longest code. 2^10 entries of 2 bytes = 2 KiB per context table: the 8 tables of a plane
/// (16 KiB) share a 32 KiB L1 data cache with the rows being decoded. (11 bits made pictures
/// 0.5-1.6% smaller on the test clips but filled the whole L1 with tables; 10 also lets a
/// 64-bit refill serve four 10-bit-domain symbols instead of three.)
pub(crate) const MAX_LEN: u32 = 10;
pub(crate) const TABLE_SIZE: usize = 1 << MAX_LEN;

/// Decode table entry: code length in bits 0-3 (bits 4-5 zero, so the entry itself is the
/// shift count: x86 shifts use only the low 6 bits), bit 6 set when 4 raw bits follow, symbol
/// in bits 8-15.
pub(crate) type Entry = u16;

fn entry(sym: u32, len: u32, extra: u32) -> Entry {
    debug_assert!(len <= MAX_LEN && (extra == 0 || extra == 4));
    (sym << 8 | len | (extra << 4)) as Entry
}

/// How one context's code is described on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    /// The context never occurs in the picture. Should a sample use it anyway, it decodes as
    /// symbol 0 from zero bits (defined, so a decoder needs no check in its inner loop).
    Unused,
    /// One symbol only; it costs zero bits.
    Single(u8),
    /// Per symbol code length, 0 = absent. At least two present, Kraft sum exactly 1.
    Lengths(Vec<u8>),
}

/// Optimal code lengths for `hist`, then limited to `max_len` bits.
pub(crate) fn code_for(hist: &[u32], max_len: u32) -> Code {
    let used: Vec<usize> = (0..hist.len()).filter(|&s| hist[s] > 0).collect();
    match used.len() {
        0 => return Code::Unused,
        1 => return Code::Single(used[0] as u8),
        _ => {}
    }
    // Plain Huffman over a heap: at most 256 leaves, so this costs microseconds per table.
    let n = used.len();
    let mut parent = vec![0usize; 2 * n - 1];
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = used
        .iter()
        .enumerate()
        .map(|(i, &s)| Reverse((hist[s] as u64, i)))
        .collect();
    let mut next = n;
    while heap.len() > 1 {
        let Reverse((fa, a)) = heap.pop().expect("two nodes");
        let Reverse((fb, b)) = heap.pop().expect("two nodes");
        parent[a] = next;
        parent[b] = next;
        heap.push(Reverse((fa + fb, next)));
        next += 1;
    }
    let root = next - 1;
    // Parents are created after their children, so one backwards pass yields depths.
    let mut depth = vec![0u32; 2 * n - 1];
    for node in (0..root).rev() {
        depth[node] = depth[parent[node]] + 1;
    }
    let mut lens = vec![0u8; hist.len()];
    for (i, &s) in used.iter().enumerate() {
        lens[s] = depth[i].min(max_len) as u8;
    }
    limit(&mut lens, hist, max_len);
    Code::Lengths(lens)
}

/// Makes clamped lengths a complete code again: lengthen the rarest codes while the Kraft
/// sum exceeds 1, then shorten the most frequent of the longest codes while there is room.
/// Shortening a longest code adds the smallest unit of the sum, so the sum reaches exactly 1.
fn limit(lens: &mut [u8], hist: &[u32], max_len: u32) {
    let cap = 1u64 << max_len;
    let unit = |l: u8| 1u64 << (max_len - l as u32);
    let mut kraft: u64 = lens.iter().filter(|&&l| l > 0).map(|&l| unit(l)).sum();
    let mut by_rarity: Vec<usize> = (0..lens.len()).filter(|&s| lens[s] > 0).collect();
    by_rarity.sort_by_key(|&s| (hist[s], Reverse(s)));
    while kraft > cap {
        let s = *by_rarity
            .iter()
            .find(|&&s| (lens[s] as u32) < max_len)
            .expect("a complete code of max_len bits exists for <= 2^max_len symbols");
        kraft -= unit(lens[s]) / 2;
        lens[s] += 1;
    }
    while kraft < cap {
        let longest = by_rarity.iter().map(|&s| lens[s]).max().unwrap_or(1);
        let s = *by_rarity
            .iter()
            .rev()
            .find(|&&s| lens[s] == longest)
            .expect("some code has the longest length");
        kraft += unit(lens[s]);
        lens[s] -= 1;
    }
}

/// Expected size in bits of `hist` coded with `code` (None: some symbol has no code).
pub(crate) fn cost_bits(code: &Code, hist: &[u32], extra: impl Fn(usize) -> u32) -> Option<u64> {
    let mut bits = 0u64;
    for (s, &n) in hist.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let len = match code {
            Code::Unused => return None,
            Code::Single(v) if *v as usize == s => 0,
            Code::Single(_) => return None,
            Code::Lengths(l) if l[s] > 0 => l[s] as u64,
            Code::Lengths(_) => return None,
        };
        bits += n as u64 * (len + extra(s) as u64);
    }
    Some(bits)
}

/// Serialisation (docs/vtl.md "Code descriptions"): a kind byte, then for kind 2 the lengths
/// as 4-bit nibbles, low nibble first; nibble 15 followed by nibble n stands for n + 2 absent
/// symbols (sparse alphabets of smooth content come out short).
pub(crate) fn write_code(code: &Code, out: &mut Vec<u8>) {
    match code {
        Code::Unused => out.push(0),
        Code::Single(s) => out.extend_from_slice(&[1, *s]),
        Code::Lengths(lens) => {
            out.push(2);
            let mut nibbles = Vec::with_capacity(lens.len());
            let mut i = 0;
            while i < lens.len() {
                let mut run = 0;
                while i + run < lens.len() && lens[i + run] == 0 && run < 17 {
                    run += 1;
                }
                if run >= 2 {
                    nibbles.push(15);
                    nibbles.push((run - 2) as u8);
                    i += run;
                } else {
                    nibbles.push(lens[i]);
                    i += 1;
                }
            }
            for pair in nibbles.chunks(2) {
                out.push(pair[0] | pair.get(1).map_or(0, |h| h << 4));
            }
        }
    }
}

/// Parses one code description for an alphabet of `alphabet` symbols; returns it and the
/// bytes it took. Rejects lengths over [`MAX_LEN`], incomplete or over-full codes.
pub(crate) fn read_code(data: &[u8], alphabet: usize) -> Result<(Code, usize), String> {
    let kind = *data.first().ok_or("code description truncated")?;
    match kind {
        0 => Ok((Code::Unused, 1)),
        1 => {
            let s = *data.get(1).ok_or("single-symbol code truncated")?;
            if s as usize >= alphabet {
                return Err(format!("symbol {s} outside alphabet of {alphabet}"));
            }
            Ok((Code::Single(s), 2))
        }
        2 => {
            let mut lens = Vec::with_capacity(alphabet);
            let mut nib = 0usize; // nibbles consumed
            let nibble = |k: usize| -> Result<u8, String> {
                let b = *data
                    .get(1 + k / 2)
                    .ok_or("code lengths truncated".to_string())?;
                Ok(if k.is_multiple_of(2) { b & 15 } else { b >> 4 })
            };
            while lens.len() < alphabet {
                let v = nibble(nib)?;
                nib += 1;
                if v == 15 {
                    let run = nibble(nib)? as usize + 2;
                    nib += 1;
                    if lens.len() + run > alphabet {
                        return Err("run of absent symbols passes the alphabet's end".into());
                    }
                    lens.resize(lens.len() + run, 0);
                } else if v as u32 > MAX_LEN {
                    return Err(format!("code length {v} over {MAX_LEN}"));
                } else {
                    lens.push(v);
                }
            }
            let kraft: u64 = lens
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 1u64 << (MAX_LEN - l as u32))
                .sum();
            let present = lens.iter().filter(|&&l| l > 0).count();
            if kraft != 1 << MAX_LEN || present < 2 {
                return Err(format!(
                    "code lengths are not a complete code ({present} symbols, Kraft sum {kraft}/{})",
                    1u64 << MAX_LEN
                ));
            }
            Ok((Code::Lengths(lens), 1 + nib.div_ceil(2)))
        }
        k => Err(format!("unknown code kind {k}")),
    }
}

/// Canonical codes, bit-reversed for LSB-first writing: (bits, length) per symbol.
fn canonical(lens: &[u8]) -> Vec<(u32, u32)> {
    let mut order: Vec<usize> = (0..lens.len()).filter(|&s| lens[s] > 0).collect();
    order.sort_by_key(|&s| (lens[s], s));
    let mut codes = vec![(0u32, 0u32); lens.len()];
    let mut code = 0u32;
    let mut prev_len = 0u32;
    for &s in &order {
        let l = lens[s] as u32;
        code <<= l - prev_len;
        prev_len = l;
        codes[s] = (code.reverse_bits() >> (32 - l), l);
        code += 1;
    }
    codes
}

/// Encoder side: per symbol its bits and length (length 0 for a single-symbol code; absent
/// symbols get length 0 too and must not be coded).
pub(crate) fn encode_table(code: &Code, alphabet: usize) -> Vec<(u32, u32)> {
    match code {
        Code::Unused => vec![(0, 0); alphabet],
        Code::Single(_) => vec![(0, 0); alphabet],
        Code::Lengths(l) => canonical(l),
    }
}

/// Decoder side: the entry for every possible next [`MAX_LEN`] bits. `extra(sym)` is the
/// number of raw bits that follow the symbol.
pub(crate) fn decode_table(code: &Code, extra: impl Fn(u32) -> u32) -> Box<[Entry; TABLE_SIZE]> {
    let mut t = Box::new([0 as Entry; TABLE_SIZE]);
    match code {
        Code::Unused => {}
        Code::Single(s) => t.fill(entry(*s as u32, 0, extra(*s as u32))),
        Code::Lengths(lens) => {
            for (s, (bits, len)) in canonical(lens).into_iter().enumerate() {
                if len == 0 {
                    continue;
                }
                let e = entry(s as u32, len, extra(s as u32));
                let mut i = bits as usize;
                while i < TABLE_SIZE {
                    t[i] = e;
                    i += 1 << len;
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8]) -> u64 {
        lens.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (MAX_LEN - l as u32))
            .sum()
    }

    #[test]
    fn skewed_histograms_are_limited_and_complete() {
        // Fibonacci counts give a maximally deep tree: depth 40 before limiting.
        let mut hist = vec![0u32; 256];
        let (mut a, mut b) = (1u32, 1u32);
        for h in hist.iter_mut().take(40) {
            *h = a;
            (a, b) = (b, a.saturating_add(b));
        }
        hist[200] = 1;
        let Code::Lengths(l) = code_for(&hist, MAX_LEN) else {
            panic!("expected lengths")
        };
        assert!(l.iter().all(|&x| x as u32 <= MAX_LEN));
        assert_eq!(kraft(&l), 1 << MAX_LEN);
        assert_eq!(l.iter().filter(|&&x| x > 0).count(), 41);
    }

    #[test]
    fn full_alphabet_round_trips_through_serialisation() {
        let hist: Vec<u32> = (0..256u32).map(|s| 1000 / (s + 1) + (s % 3)).collect();
        let code = code_for(&hist, MAX_LEN);
        let mut out = Vec::new();
        write_code(&code, &mut out);
        let (back, used) = read_code(&out, 256).unwrap();
        assert_eq!(used, out.len());
        assert_eq!(back, code);
    }

    #[test]
    fn sparse_alphabet_uses_zero_runs() {
        let mut hist = vec![0u32; 244];
        hist[0] = 50;
        hist[1] = 20;
        hist[2] = 20;
        hist[243] = 1;
        let code = code_for(&hist, MAX_LEN);
        let mut out = Vec::new();
        write_code(&code, &mut out);
        assert!(out.len() < 20, "{} bytes", out.len());
        assert_eq!(read_code(&out, 244).unwrap().0, code);
    }

    #[test]
    fn incomplete_codes_are_rejected() {
        // Two symbols of length 2: Kraft sum 1/2.
        let mut out = vec![2u8];
        let mut lens = vec![2u8, 2];
        lens.resize(256, 0);
        let mut tmp = Vec::new();
        write_code(&Code::Lengths(lens), &mut tmp);
        out.truncate(0);
        out.extend_from_slice(&tmp);
        assert!(read_code(&out, 256).is_err());
        assert!(read_code(&[2, 0xcc], 256).is_err()); // lengths 12 are over the limit
        assert!(read_code(&[3], 256).is_err());
        assert!(read_code(&[1, 250], 244).is_err());
    }

    #[test]
    fn decode_table_inverts_encode_table() {
        let hist: Vec<u32> = (0..256u32).map(|s| (s * 7919) % 101 + 1).collect();
        let code = code_for(&hist, MAX_LEN);
        let enc = encode_table(&code, 256);
        let dec = decode_table(&code, |_| 0);
        for (s, &(bits, len)) in enc.iter().enumerate() {
            // Any continuation after the code must decode to the same symbol.
            for pad in [0u32, 0x7ff] {
                let idx = (bits | (pad << len)) as usize & (TABLE_SIZE - 1);
                assert_eq!(dec[idx] >> 8, s as u16);
                assert_eq!(dec[idx] & 15, len as u16);
            }
        }
    }
}
