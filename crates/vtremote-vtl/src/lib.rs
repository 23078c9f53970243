//! VTL, vtremote's lossless wire coder for raw picture planes (`wire_compression` 3).
//!
//! One [`PlaneEncoder`]/[`PlaneDecoder`] pair per plane of a session. Each keeps the plane it
//! last coded as the reference for temporal prediction, so frames of a session depend on
//! their predecessor; a frame coded with `restart` (and every session's first frame) depends
//! on nothing. The bitstream is described byte for byte in docs/vtl.md.
//!
//! The design, decoder first: per 16x16 block one of three spatial predictors whose inverses
//! vectorise (gradient and half-gradient: a prefix sum along the row; smoothed up: a plain
//! add), a temporal residual, or SKIP; static canonical Huffman codes of at most 10 bits, one
//! per context, the context read from the row above before the row is decoded; eight
//! interleaved bit streams per slice; row-band slices that decode independently on threads.
//! All `unsafe` (x86 SIMD, behind run-time detection) is in `simd/`; [`Isa::Scalar`] runs the
//! portable reference kernels every SIMD kernel is tested against.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod bits;
mod decoder;
mod encoder;
mod error;
mod format;
mod huffman;
mod sample;
#[allow(unsafe_code)]
mod simd;

pub use error::VtlError;
pub use simd::Isa;

use decoder::DecoderCore;
use encoder::EncoderCore;
use format::{Cursor, Geom, Header, FLAG_BYTES, FORMAT_P010, FORMAT_U8, THRESHOLDS};

/// How samples are stored in a plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// One byte per sample (NV12).
    U8,
    /// Two bytes per sample, little endian, significant bits at the top (P010: 10 bits << 6).
    /// Low bits that are not zero are still coded losslessly.
    P010,
}

impl SampleFormat {
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::U8 => 1,
            SampleFormat::P010 => 2,
        }
    }

    fn code(self) -> u8 {
        match self {
            SampleFormat::U8 => FORMAT_U8,
            SampleFormat::P010 => FORMAT_P010,
        }
    }
}

/// The layout of one tightly packed plane (stride = row bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneShape {
    /// Samples per row per channel (luma: the picture width; NV12 chroma: width / 2).
    pub width: usize,
    pub rows: usize,
    /// 1 for luma, 2 for interleaved chroma (U, V, U, V, ...).
    pub channels: usize,
    pub format: SampleFormat,
}

impl PlaneShape {
    pub fn row_bytes(&self) -> usize {
        self.width * self.channels * self.format.bytes()
    }

    pub fn bytes(&self) -> usize {
        self.row_bytes() * self.rows
    }

    /// VTL codes 1 or 2 channels, widths and heights that fit its 32-bit header fields, and
    /// at most 64 slices of up to 65,520 rows.
    fn check(&self) -> Result<(), VtlError> {
        let ok = (1..=2).contains(&self.channels)
            && u32::try_from(self.width).is_ok()
            && u32::try_from(self.rows).is_ok()
            && self.rows <= format::MAX_SLICES * 65_520
            && self
                .width
                .checked_mul(self.channels * 2)
                .and_then(|r| r.checked_mul(self.rows))
                .is_some();
        if ok {
            Ok(())
        } else {
            Err(VtlError::Unsupported(format!("{self:?}")))
        }
    }

    fn geom(&self, bytes_mode: bool) -> Geom {
        Geom {
            width: self.width,
            rows: self.rows,
            ch: if bytes_mode {
                self.channels * 2
            } else {
                self.channels
            },
        }
    }
}

/// Context thresholds on the activity of the row above (sum of zigzag residuals, weights
/// 1-2-1): roughly doubling, so each context holds a distinct residual spread. Other sets
/// measured within ±0.5% in size on the test clips; contexts as a whole gain ~7% on smooth
/// video and ~0.4% on grain.
const THRESHOLDS_8: [u16; THRESHOLDS] = [0, 3, 7, 14, 28, 56];
const THRESHOLDS_10: [u16; THRESHOLDS] = [0, 12, 28, 56, 112, 224];

/// True when every P010 sample has zero low 6 bits (the normal case): then VTL codes the
/// 10 significant bits; otherwise it codes the plane's bytes.
fn p010_is_clean(plane: &[u8]) -> bool {
    // Eight bytes at a time (the low byte of each sample masked): this loop vectorises.
    let mut acc = 0u64;
    let mut words = plane.chunks_exact(8);
    for w in &mut words {
        acc |= u64::from_le_bytes(w.try_into().expect("8 bytes"));
    }
    let tail = words.remainder().iter().step_by(2).fold(0u8, |a, &b| a | b);
    acc & 0x003f_003f_003f_003f == 0 && tail & 0x3f == 0
}

/// P010 bytes → 10-bit values.
fn p010_to_ten(plane: &[u8], out: &mut Vec<u16>) {
    out.resize(plane.len() / 2, 0);
    for (o, b) in out.iter_mut().zip(plane.chunks_exact(2)) {
        *o = (b[0] as u16 | (b[1] as u16) << 8) >> 6;
    }
}

/// 10-bit values → P010 bytes.
fn ten_to_p010(ten: &[u16], out: &mut [u8]) {
    for (o, &v) in out.chunks_exact_mut(2).zip(ten) {
        let w = v << 6;
        o[0] = w as u8;
        o[1] = (w >> 8) as u8;
    }
}

/// Codes successive pictures of one plane.
pub struct PlaneEncoder {
    shape: PlaneShape,
    threads: usize,
    isa: Isa,
    bytes: EncoderCore<u8>,
    ten: EncoderCore<u16>,
    ten_buf: Vec<u16>,
}

impl PlaneEncoder {
    pub fn new(shape: PlaneShape) -> Self {
        PlaneEncoder {
            shape,
            threads: 1,
            isa: Isa::detect(),
            bytes: EncoderCore::new(),
            ten: EncoderCore::new(),
            ten_buf: Vec::new(),
        }
    }

    pub fn shape(&self) -> PlaneShape {
        self.shape
    }

    /// Threads to code slices on (1, the default, codes on the caller's thread). The output
    /// does not depend on it.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Kernels to use; returns false (and keeps the current ones) when this CPU lacks `isa`.
    pub fn set_isa(&mut self, isa: Isa) -> bool {
        let ok = Isa::available().contains(&isa);
        if ok {
            self.isa = isa;
        }
        ok
    }

    /// Appends the coded form of `plane` (exactly `shape.bytes()` long) to `out` and returns
    /// its length. `restart`: code without reference to earlier pictures.
    pub fn encode(
        &mut self,
        plane: &[u8],
        restart: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, VtlError> {
        self.shape.check()?;
        if plane.len() != self.shape.bytes() {
            return Err(VtlError::WrongSize {
                got: plane.len(),
                expected: self.shape.bytes(),
            });
        }
        let start = out.len();
        let s = self.shape;
        let (fmt, chans) = (s.format.code(), s.channels as u8);
        match s.format {
            SampleFormat::U8 => {
                self.bytes.encode(
                    plane,
                    s.geom(false),
                    fmt,
                    chans,
                    0,
                    restart,
                    THRESHOLDS_8,
                    self.isa,
                    self.threads,
                    out,
                );
                self.bytes.keep_copy(plane);
            }
            SampleFormat::P010 if p010_is_clean(plane) => {
                // The reference lives in the domain it was coded in: a switch of domain
                // codes the picture without reference.
                self.bytes.has_ref = false;
                p010_to_ten(plane, &mut self.ten_buf);
                self.ten.encode(
                    &self.ten_buf,
                    s.geom(false),
                    fmt,
                    chans,
                    0,
                    restart,
                    THRESHOLDS_10,
                    self.isa,
                    self.threads,
                    out,
                );
                self.ten.keep_swap(&mut self.ten_buf);
            }
            SampleFormat::P010 => {
                self.ten.has_ref = false;
                self.bytes.encode(
                    plane,
                    s.geom(true),
                    fmt,
                    chans,
                    FLAG_BYTES,
                    restart,
                    THRESHOLDS_8,
                    self.isa,
                    self.threads,
                    out,
                );
                self.bytes.keep_copy(plane);
            }
        }
        Ok(out.len() - start)
    }
}

/// Decodes what the matching [`PlaneEncoder`] produced, picture by picture.
pub struct PlaneDecoder {
    shape: PlaneShape,
    threads: usize,
    isa: Isa,
    bytes: DecoderCore<u8>,
    ten: DecoderCore<u16>,
}

impl PlaneDecoder {
    pub fn new(shape: PlaneShape) -> Self {
        PlaneDecoder {
            shape,
            threads: 1,
            isa: Isa::detect(),
            bytes: DecoderCore::new(),
            ten: DecoderCore::new(),
        }
    }

    pub fn shape(&self) -> PlaneShape {
        self.shape
    }

    /// Threads to decode slices on (1, the default, decodes on the caller's thread).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Kernels to use; returns false (and keeps the current ones) when this CPU lacks `isa`.
    pub fn set_isa(&mut self, isa: Isa) -> bool {
        let ok = Isa::available().contains(&isa);
        if ok {
            self.isa = isa;
        }
        ok
    }

    /// Fills `out` (exactly `shape.bytes()` long) from `wire`. Never reads or writes outside
    /// the two slices, whatever `wire` holds; after an error the next picture must be a
    /// restart.
    pub fn decode(&mut self, wire: &[u8], out: &mut [u8]) -> Result<(), VtlError> {
        if out.len() != self.shape.bytes() {
            return Err(VtlError::WrongSize {
                got: out.len(),
                expected: self.shape.bytes(),
            });
        }
        let r = self.decode_inner(wire, out);
        if r.is_err() {
            self.bytes.drop_reference();
            self.ten.drop_reference();
        }
        r
    }

    fn decode_inner(&mut self, wire: &[u8], out: &mut [u8]) -> Result<(), VtlError> {
        let s = self.shape;
        s.check()?;
        let mut cur = Cursor::new(wire);
        let ten_alphabet = <u16 as sample::Sample>::ALPHABET;
        let hdr = Header::read(
            &mut cur,
            (
                s.format.code(),
                s.channels as u8,
                s.width as u32,
                s.rows as u32,
            ),
            |flags| {
                if s.format == SampleFormat::P010 && flags & FLAG_BYTES == 0 {
                    ten_alphabet
                } else {
                    256
                }
            },
        )?;
        let body = &wire[cur.pos()..];
        let bytes_mode = hdr.flags & FLAG_BYTES != 0;
        if s.format == SampleFormat::P010 && !bytes_mode {
            self.bytes.drop_reference();
            self.ten
                .decode(&hdr, body, s.geom(false), self.isa, self.threads)?;
            self.ten.has_ref = true;
            ten_to_p010(&self.ten.plane, out);
        } else {
            if s.format == SampleFormat::P010 {
                self.ten.drop_reference();
            }
            self.bytes
                .decode(&hdr, body, s.geom(bytes_mode), self.isa, self.threads)?;
            self.bytes.has_ref = true;
            out.copy_from_slice(&self.bytes.plane);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A stream with a byte more than its symbols need is corrupt, even with every length
    /// field adjusted to match: each stream must end where its last symbol ends.
    #[test]
    fn a_stream_longer_than_its_symbols_is_rejected() {
        let shape = PlaneShape {
            width: 40,
            rows: 20,
            channels: 1,
            format: SampleFormat::U8,
        };
        let plane: Vec<u8> = (0..shape.bytes()).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        PlaneEncoder::new(shape)
            .encode(&plane, true, &mut wire)
            .unwrap();
        let mut cur = Cursor::new(&wire);
        let hdr = Header::read(&mut cur, (FORMAT_U8, 1, 40, 20), |_| 256).unwrap();
        assert_eq!(hdr.slices, 1);
        let at = cur.pos();
        let le = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
        let slice_len = le(&wire[at..at + 4]);
        // Slice 0: kind 0 (restart, no modes), then 8 stream lengths.
        let s0 = at + 4;
        assert_eq!(wire[s0], 0);
        let l7 = s0 + 1 + 4 * 7;
        let stream7 = le(&wire[l7..l7 + 4]);
        let mut bad = wire.clone();
        bad[at..at + 4].copy_from_slice(&(slice_len + 1).to_le_bytes());
        bad[l7..l7 + 4].copy_from_slice(&(stream7 + 1).to_le_bytes());
        bad.push(0);
        let mut out = vec![0; shape.bytes()];
        let mut dec = PlaneDecoder::new(shape);
        dec.decode(&wire, &mut out).unwrap();
        assert!(matches!(
            dec.decode(&bad, &mut out),
            Err(VtlError::CorruptSlice { slice: 0, .. })
        ));
    }

    /// The block modes of every slice of a one-slice picture's wire.
    fn slice_modes(wire: &[u8], shape: PlaneShape) -> Vec<u8> {
        let mut cur = Cursor::new(wire);
        let expect = (FORMAT_U8, 1, shape.width as u32, shape.rows as u32);
        Header::read(&mut cur, expect, |_| 256).unwrap();
        cur.skip(4);
        if cur.u8("kind").unwrap() == 0 {
            return vec![format::MODE_INTRA; 1];
        }
        let len = cur.u32("len").unwrap() as usize;
        let mut modes = Vec::new();
        let blocks = shape.width.div_ceil(16) * shape.rows.div_ceil(16);
        format::read_modes(cur.take(len, "map").unwrap(), blocks, false, &mut modes).unwrap();
        modes
    }

    #[test]
    fn zero_residual_blocks_code_nothing() {
        // A horizontal ramp (exact for the gradient) with a noisy square: the ramp's blocks
        // are INTRA_ZERO in a restart picture, and when the ramp moves, in the next one too.
        let shape = PlaneShape {
            width: 96,
            rows: 64,
            channels: 1,
            format: SampleFormat::U8,
        };
        let pic = |shift: usize| -> Vec<u8> {
            let mut x = 99u64;
            (0..shape.bytes())
                .map(|i| {
                    let (c, r) = (i % 96, i / 96);
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if (40..56).contains(&c) && (16..32).contains(&r) {
                        x as u8
                    } else {
                        ((c + shift) * 2) as u8
                    }
                })
                .collect()
        };
        let mut enc = PlaneEncoder::new(shape);
        let mut dec = PlaneDecoder::new(shape);
        let mut out = vec![0; shape.bytes()];
        for (k, restart) in [(0, true), (3, false)] {
            let p = pic(k);
            let mut wire = Vec::new();
            enc.encode(&p, restart, &mut wire).unwrap();
            let modes = slice_modes(&wire, shape);
            // Not zero: the slice's first block row (no row above) and the noise's blocks and
            // those below them (the noise is in their row above).
            let zero = |m: &u8| *m == format::MODE_INTRA_ZERO;
            assert_eq!(modes.iter().filter(|m| zero(m)).count(), 14, "{modes:?}");
            assert!(modes[18..].iter().all(zero), "{modes:?}");
            // Mostly the noise and the code descriptions: the 3584 samples of the zero blocks
            // would add at least 448 bytes at one bit each.
            assert!(wire.len() < 1000, "{} bytes", wire.len());
            dec.decode(&wire, &mut out).unwrap();
            assert_eq!(out, p);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every block mode's reconstruction, on every kernel set, whatever the encoder would
        /// have chosen: the encoder is forced to one mode for all blocks that are not SKIP.
        #[test]
        fn every_block_mode_round_trips(
            width in 1usize..80, rows in 1usize..40, channels in 1usize..=2,
            p010 in any::<bool>(), seed in any::<u64>(), quiet in any::<bool>(),
            mode in prop::sample::select(vec![
                format::MODE_INTRA, format::MODE_HALF, format::MODE_UP, format::MODE_INTER,
            ]),
        ) {
            let format = if p010 { SampleFormat::P010 } else { SampleFormat::U8 };
            let shape = PlaneShape { width, rows, channels, format };
            let mut x = seed | 1;
            let mut pic = || -> Vec<u8> {
                (0..shape.bytes() / format.bytes())
                    .flat_map(|i| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Smooth content with noise, so residuals are small and large; with
                        // `quiet`, rows 0-31 flat, so blocks whose residuals are all zero under
                        // every predictor (the zero-residual modes) occur too.
                        let flat = quiet && i / (width * channels) < 32;
                        let v = if flat { 77 } else { ((i % 37) as u64 * 5 + (x % 23)) as u16 };
                        if p010 { ((v & 1023) << 6).to_le_bytes().to_vec() } else { vec![v as u8] }
                    })
                    .collect()
            };
            let pics = [pic(), pic(), pic()];
            for isa in Isa::available() {
                let mut enc = PlaneEncoder::new(shape);
                enc.bytes.force_mode = Some(mode);
                enc.ten.force_mode = Some(mode);
                let mut dec = PlaneDecoder::new(shape);
                prop_assert!(dec.set_isa(isa));
                let mut out = vec![0u8; shape.bytes()];
                for p in &pics {
                    let mut wire = Vec::new();
                    enc.encode(p, false, &mut wire).unwrap();
                    dec.decode(&wire, &mut out).unwrap();
                    prop_assert_eq!(&out, p, "mode {} isa {:?}", mode, isa);
                }
            }
        }
    }
}
