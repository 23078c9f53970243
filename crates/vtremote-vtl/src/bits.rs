//! Bit packing of the entropy-coded streams: least significant bit first, codes written as
//! canonical codes bit-reversed (huffman.rs), a symbol's raw extra bits right after its code.
//!
//! Symbol `k` of a row (counting only the row's coded samples) lives in stream `k % 8`; the
//! decoder refills each stream once per [`Sample::SYMS_PER_REFILL`] of its symbols with one
//! unaligned 8-byte load, which always holds at least 57 unread bits.

use crate::format::STREAMS;
use crate::huffman::{Entry, MAX_LEN, TABLE_SIZE};
use crate::sample::{Sample, TEN_BIT_BASE};

/// Appends codes to one stream. The buffer is written 8 bytes at a time and trimmed at the end.
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    pos: usize,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        BitWriter {
            buf: Vec::new(),
            pos: 0,
            acc: 0,
            nbits: 0,
        }
    }

    /// Starts a stream that will hold at most `max_bits` bits.
    pub(crate) fn reset(&mut self, max_bits: usize) {
        let need = max_bits / 8 + 16;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        self.pos = 0;
        self.acc = 0;
        self.nbits = 0;
    }

    #[inline(always)]
    pub(crate) fn flush(&mut self) {
        let bytes = (self.nbits / 8) as usize;
        self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        self.pos += bytes;
        // bytes <= 7: the caller never lets more than 63 bits accumulate.
        self.acc >>= bytes * 8;
        self.nbits -= bytes as u32 * 8;
    }

    /// The stream's bytes: every code, then zero bits up to the byte boundary.
    pub(crate) fn finish(&mut self) -> &[u8] {
        self.flush();
        let len = self.pos + (self.nbits as usize).div_ceil(8);
        self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        &self.buf[..len]
    }
}

/// Writes one row's symbols: `codes[ctx << zbits | z]` is the code of zigzag value `z` in
/// context `ctx` (raw extra bits already folded in); `ctx` holds contexts as `ctx << 11`.
/// `codes` has 2^16 entries so that a u16 index needs no bounds check.
#[inline(always)]
pub(crate) fn write_row<T: Sample>(
    w: &mut [BitWriter; STREAMS],
    codes: &[u32; 1 << 16],
    zbits: u32,
    z: &[T],
    ctx: &[u16],
) {
    let shift = MAX_LEN - zbits;
    let spr = T::SYMS_PER_REFILL;
    let n = z.len();
    let ctx = &ctx[..n];
    // Stream by stream, the writer's state in registers; the symbols of stream s are the
    // row's samples s, s + 8, s + 16, ...
    for (s, wr) in w.iter_mut().enumerate() {
        let (mut acc, mut nbits, mut pos) = (wr.acc, wr.nbits, wr.pos);
        let buf = &mut wr.buf[..];
        let mut k = s;
        while k < n {
            for _ in 0..spr {
                if k >= n {
                    break;
                }
                let code = codes[((ctx[k] >> shift) | z[k].get() as u16) as usize];
                acc |= ((code & 0xffff) as u64) << nbits;
                nbits += code >> 16;
                k += STREAMS;
            }
            let bytes = (nbits / 8) as usize;
            buf[pos..pos + 8].copy_from_slice(&acc.to_le_bytes());
            pos += bytes;
            // bytes <= 7: at most spr codes (57 bits) were added to fewer than 8 bits.
            acc >>= bytes * 8;
            nbits -= bytes as u32 * 8;
        }
        (wr.acc, wr.nbits, wr.pos) = (acc, nbits, pos);
    }
}

/// Reads one stream. `pos` may run past the end on corrupt input; loads there read zeros
/// and [`BitReader::exhausted_exactly`] reports the overrun.
#[derive(Clone, Copy)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The next 57 bits, least significant first, with a 1 above them: after shifting out
    /// the bits it uses, a decoder learns how many it used from the leading zeros alone.
    #[inline(always)]
    fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let w = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
            None => self.peek_tail(byte),
        };
        (w >> (self.pos & 7)) & (SENTINEL - 1) | SENTINEL
    }

    /// Advances past what was shifted out of a [`BitReader::peek`] value.
    #[inline(always)]
    fn consume(&mut self, v: u64) {
        self.pos += v.leading_zeros() as usize - (63 - SENTINEL_BIT);
    }

    #[cold]
    fn peek_tail(&self, byte: usize) -> u64 {
        let mut b = [0u8; 8];
        if byte < self.data.len() {
            let n = (self.data.len() - byte).min(8);
            b[..n].copy_from_slice(&self.data[byte..byte + n]);
        }
        u64::from_le_bytes(b)
    }

    /// True when the stream ended exactly: all its bytes used, no more than padding left.
    pub(crate) fn exhausted_exactly(&self) -> bool {
        self.pos.div_ceil(8) == self.data.len()
    }
}

const SENTINEL_BIT: usize = 57;
const SENTINEL: u64 = 1 << SENTINEL_BIT;

/// Decode tables of one picture: 8 contexts × 2048 entries, indexed by `ctx << 11 | next 11
/// bits`. Sized to the whole u16 range so that index needs no bounds check; only the first
/// 32 KiB are ever touched.
pub(crate) type Tables = [Entry; 1 << 16];

/// Decodes `out.len()` symbols of one row, symbol k from stream k % 8 with the table at
/// offset `ctx[k]` (context << 11).
#[inline(always)]
pub(crate) fn read_row<T: Sample>(
    r: &mut [BitReader; STREAMS],
    tabs: &Tables,
    ctx: &[u16],
    out: &mut [T],
) {
    match T::SYMS_PER_REFILL {
        5 => read_row_n::<T, 5, 40>(r, tabs, ctx, out),
        4 => read_row_n::<T, 4, 32>(r, tabs, ctx, out),
        3 => read_row_n::<T, 3, 24>(r, tabs, ctx, out),
        _ => unreachable!("SYMS_PER_REFILL is 3 to 5"),
    }
}

#[inline(always)]
fn read_row_n<T: Sample, const SPR: usize, const ROUND: usize>(
    r: &mut [BitReader; STREAMS],
    tabs: &Tables,
    ctx: &[u16],
    out: &mut [T],
) {
    let n = out.len();
    let full = n / ROUND * ROUND;
    let ctx = &ctx[..n];
    for (oc, cc) in out[..full]
        .chunks_exact_mut(ROUND)
        .zip(ctx[..full].chunks_exact(ROUND))
    {
        let oc: &mut [T; ROUND] = oc.try_into().expect("round");
        let cc: &[u16; ROUND] = cc.try_into().expect("round");
        // Four streams' chains explicitly interleaved (each chain is load, shift: ~8 cycles
        // per symbol), twice; out-of-order execution overlaps the two halves further.
        for half in 0..2 {
            let mut v = [0u64; 4];
            for j in 0..4 {
                v[j] = r[half * 4 + j].peek();
            }
            for g in 0..SPR {
                for j in 0..4 {
                    let k = g * STREAMS + half * 4 + j;
                    let e = tabs[(cc[k] | (v[j] as u16 & (TABLE_SIZE as u16 - 1))) as usize];
                    v[j] >>= e & 63;
                    oc[k] = symbol_value::<T>(e, &mut v[j]);
                }
            }
            for j in 0..4 {
                r[half * 4 + j].consume(v[j]);
            }
        }
    }
    for k in full..n {
        let rd = &mut r[k % STREAMS];
        let mut v = rd.peek();
        let e = tabs[(ctx[k] | (v as u16 & (TABLE_SIZE as u16 - 1))) as usize];
        v >>= e & 63;
        out[k] = symbol_value::<T>(e, &mut v);
        rd.consume(v);
    }
}

/// The zigzag value of a decoded entry, consuming its raw extra bits from `v`.
#[inline(always)]
fn symbol_value<T: Sample>(e: Entry, v: &mut u64) -> T {
    let sym = (e >> 8) as u32;
    if T::MAX_EXTRA == 0 {
        T::wrap(sym)
    } else {
        let nx = (e as u32 >> 4) & 4;
        let x = (*v as u32) & ((1u32 << nx) - 1);
        *v >>= nx;
        T::wrap(TEN_BIT_BASE[sym as usize & 255] as u32 + x)
    }
}
