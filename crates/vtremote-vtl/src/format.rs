//! The VTL picture header and slice framing (docs/vtl.md). Everything the decoder reads from
//! the wire before the entropy-coded streams is parsed here, with every field checked against
//! the plane's shape and the limits below before it is used.

use crate::huffman::{self, Code};
use crate::VtlError;

pub(crate) const VERSION: u8 = 1;

/// Picture flags.
pub(crate) const FLAG_INTRA: u8 = 1;
pub(crate) const FLAG_BYTES: u8 = 2;
pub(crate) const FLAG_REUSE_CODES: u8 = 4;
const FLAGS_KNOWN: u8 = FLAG_INTRA | FLAG_BYTES | FLAG_REUSE_CODES;

/// Block size for the per-block prediction modes: 16 samples of each channel by 16 rows, the
/// unit at which static backgrounds and letterboxes are typically bit-identical frame to frame.
pub(crate) const BLOCK: usize = 16;

/// Entropy-coded streams per slice, interleaved sample by sample so the decoder runs eight
/// independent dependency chains (a table lookup's latency is ~5 cycles; one chain would
/// leave the core idle most of the time).
pub(crate) const STREAMS: usize = 8;

/// Contexts: 0..=5 by the activity of the row above, [`CTX_FIRST_ROW`] for a slice's first
/// row, which has no row above. Eight tables of 4 KiB fit the L1 data cache.
pub(crate) const CONTEXTS: usize = 8;
pub(crate) const THRESHOLDS: usize = 6;
pub(crate) const CTX_FIRST_ROW: u8 = 7;

/// At most 64 slices: enough for 8 threads on 8K; bounds the header the decoder parses.
pub(crate) const MAX_SLICES: usize = 64;

/// Block modes.
pub(crate) const MODE_INTRA: u8 = 0;
pub(crate) const MODE_INTER: u8 = 1;
pub(crate) const MODE_SKIP: u8 = 2;
pub(crate) const MODE_HALF: u8 = 3;
pub(crate) const MODE_UP: u8 = 4;
/// INTRA, HALF and UP with every residual of the block zero: nothing coded, the block is its
/// prediction (flat areas and exact ramps, e.g. synthetic or screen content that moves, where
/// even a one-bit code per sample would cost more than a general-purpose compressor's runs).
pub(crate) const MODE_INTRA_ZERO: u8 = 5;
pub(crate) const MODE_HALF_ZERO: u8 = 6;
pub(crate) const MODE_UP_ZERO: u8 = 7;
const MODE_LAST: u8 = MODE_UP_ZERO;

/// The zero-residual variant of a spatial mode, if it has one.
pub(crate) fn zero_mode(m: u8) -> Option<u8> {
    match m {
        MODE_INTRA => Some(MODE_INTRA_ZERO),
        MODE_HALF => Some(MODE_HALF_ZERO),
        MODE_UP => Some(MODE_UP_ZERO),
        _ => None,
    }
}

/// The predictor a block of mode `m` uses (a zero-residual mode's spatial mode).
pub(crate) fn base_mode(m: u8) -> u8 {
    match m {
        MODE_INTRA_ZERO => MODE_INTRA,
        MODE_HALF_ZERO => MODE_HALF,
        MODE_UP_ZERO => MODE_UP,
        m => m,
    }
}

/// Whether the samples of a block of mode `m` are coded (not SKIP, not a zero mode).
pub(crate) fn is_coded(m: u8) -> bool {
    m != MODE_SKIP && m < MODE_INTRA_ZERO
}

pub(crate) const FORMAT_U8: u8 = 0;
pub(crate) const FORMAT_P010: u8 = 1;

/// A forward cursor that names the field it failed on.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "{what}: needs {n} bytes at offset {}, {} left",
                    self.pos,
                    self.data.len() - self.pos
                )
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn skip(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The geometry the coder works in: `width` samples per channel per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geom {
    pub width: usize,
    pub rows: usize,
    pub ch: usize,
}

impl Geom {
    pub(crate) fn row_len(&self) -> usize {
        self.width * self.ch
    }

    pub(crate) fn block_cols(&self) -> usize {
        self.width.div_ceil(BLOCK)
    }

    /// Sample range of block column `b` within a row.
    pub(crate) fn block_span(&self, b: usize) -> (usize, usize) {
        let w0 = b * BLOCK;
        let w1 = (w0 + BLOCK).min(self.width);
        (w0 * self.ch, w1 * self.ch)
    }
}

/// Rows per slice the encoder picks: up to 8 slices of at least 128 rows, so 4K and 1080p
/// split evenly over two threads while small planes keep one slice (each slice costs a row
/// without a row above and a few dozen bytes of framing).
pub(crate) fn default_slice_rows(rows: usize) -> usize {
    let slices = (rows / 128).clamp(1, 8);
    rows.div_ceil(slices).div_ceil(BLOCK).max(1) * BLOCK
}

#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub flags: u8,
    pub format: u8,
    pub channels: u8,
    pub width: u32,
    pub rows: u32,
    pub slices: usize,
    pub slice_rows: usize,
    pub thresholds: [u16; THRESHOLDS],
    /// None when FLAG_REUSE_CODES is set.
    pub codes: Option<Vec<Code>>,
}

impl Header {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.flags);
        out.push(self.format);
        out.push(self.channels);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.push(self.slices as u8);
        out.extend_from_slice(&(self.slice_rows as u16).to_le_bytes());
        for t in self.thresholds {
            out.extend_from_slice(&t.to_le_bytes());
        }
        if let Some(codes) = &self.codes {
            for c in codes {
                huffman::write_code(c, out);
            }
        }
    }

    /// Parses and validates against the decoder's plane: `expect` is (format, channels,
    /// width, rows) of the shape; `alphabet(flags)` the symbol count of the coding domain.
    pub(crate) fn read(
        cur: &mut Cursor,
        expect: (u8, u8, u32, u32),
        alphabet: impl Fn(u8) -> usize,
    ) -> Result<Header, VtlError> {
        let bad = |m: String| VtlError::Corrupt(format!("picture header: {m}"));
        let version = cur.u8("version").map_err(bad)?;
        if version != VERSION {
            return Err(bad(format!(
                "version {version}, this decoder reads {VERSION}"
            )));
        }
        let flags = cur.u8("flags").map_err(bad)?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(bad(format!("unknown flags {flags:#04x}")));
        }
        if flags & FLAG_INTRA != 0 && flags & FLAG_REUSE_CODES != 0 {
            return Err(bad(
                "a restart picture cannot reuse the previous codes".into()
            ));
        }
        let format = cur.u8("format").map_err(bad)?;
        let channels = cur.u8("channels").map_err(bad)?;
        let width = cur.u32("width").map_err(bad)?;
        let rows = cur.u32("rows").map_err(bad)?;
        let got = (format, channels, width, rows);
        if got != expect {
            return Err(VtlError::ShapeMismatch {
                wire: format!("format {format} channels {channels} {width}x{rows}"),
                plane: format!(
                    "format {} channels {} {}x{}",
                    expect.0, expect.1, expect.2, expect.3
                ),
            });
        }
        if flags & FLAG_BYTES != 0 && format != FORMAT_P010 {
            return Err(bad("byte mode is only for P010 planes".into()));
        }
        let slices = cur.u8("slice count").map_err(bad)? as usize;
        let slice_rows = cur.u16("slice rows").map_err(bad)? as usize;
        if slice_rows == 0 || !slice_rows.is_multiple_of(BLOCK) {
            return Err(bad(format!(
                "slice rows {slice_rows} is not a positive multiple of {BLOCK}"
            )));
        }
        if slices != (rows as usize).div_ceil(slice_rows) || slices > MAX_SLICES {
            return Err(bad(format!(
                "{slices} slices of {slice_rows} rows do not tile {rows} rows (at most {MAX_SLICES})"
            )));
        }
        let mut thresholds = [0u16; THRESHOLDS];
        for t in thresholds.iter_mut() {
            *t = cur.u16("context thresholds").map_err(bad)?;
        }
        let codes = if flags & FLAG_REUSE_CODES != 0 {
            None
        } else {
            let alpha = alphabet(flags);
            let mut codes = Vec::with_capacity(CONTEXTS);
            for c in 0..CONTEXTS {
                let (code, used) = huffman::read_code(cur.rest(), alpha)
                    .map_err(|m| bad(format!("code of context {c}: {m}")))?;
                cur.skip(used);
                codes.push(code);
            }
            Some(codes)
        };
        Ok(Header {
            flags,
            format,
            channels,
            width,
            rows,
            slices,
            slice_rows,
            thresholds,
            codes,
        })
    }
}

/// Block modes of a slice, run-length coded: each byte is mode << 5 | (run - 1).
pub(crate) fn write_modes(modes: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < modes.len() {
        let m = modes[i];
        let mut run = 1;
        while i + run < modes.len() && modes[i + run] == m && run < 32 {
            run += 1;
        }
        out.push(m << 5 | (run as u8 - 1));
        i += run;
    }
}

/// Parses exactly `count` block modes from `data` (all of it) into `modes`. `intra`: a
/// restart picture, where INTER and SKIP are not allowed.
pub(crate) fn read_modes(
    data: &[u8],
    count: usize,
    intra: bool,
    modes: &mut Vec<u8>,
) -> Result<(), String> {
    modes.clear();
    for &b in data {
        let m = b >> 5;
        let run = (b & 31) as usize + 1;
        if m > MODE_LAST {
            return Err(format!("block mode {m} is not defined"));
        }
        if intra && (m == MODE_INTER || m == MODE_SKIP) {
            return Err(format!(
                "block mode {m} needs the previous picture, in a restart picture"
            ));
        }
        if modes.len() + run > count {
            return Err(format!(
                "block mode runs cover more than the {count} blocks"
            ));
        }
        modes.resize(modes.len() + run, m);
    }
    if modes.len() != count {
        return Err(format!(
            "block mode runs cover {} of {count} blocks",
            modes.len()
        ));
    }
    Ok(())
}
