//! Picture decoding, generic over the sample domain. The picture is decoded in place over
//! the reference: a row's INTER and SKIP blocks read the co-located reference samples before
//! anything overwrites them, and INTRA reads the row above, which is already the new picture.
//! SKIP blocks therefore cost nothing at all.

use crate::bits::{BitReader, Tables};
use crate::format::*;
use crate::huffman::{self, Code, MAX_LEN, TABLE_SIZE};
use crate::sample::Sample;
use crate::simd::{read_row, Isa, Kernels, Pred};
use crate::VtlError;

/// Per-slice working rows, sized from the plane's shape only (never from the wire).
#[derive(Default)]
struct Scratch<T> {
    zprev: Vec<T>,
    zcur: Vec<T>,
    zc: Vec<T>,
    ctx: Vec<u16>,
    ctxc: Vec<u16>,
    zeros: Vec<T>,
    modes: Vec<u8>,
    segs: Vec<(usize, usize, u8)>,
}

impl<T: Sample> Scratch<T> {
    fn size(&mut self, row_len: usize, blocks: usize) {
        for v in [
            &mut self.zprev,
            &mut self.zcur,
            &mut self.zc,
            &mut self.zeros,
        ] {
            v.resize(row_len, T::default());
        }
        self.ctx.resize(row_len, 0);
        self.ctxc.resize(row_len, 0);
        self.modes.reserve(blocks);
    }
}

pub(crate) struct DecoderCore<T> {
    /// The last decoded picture: the reference of the next one while `has_ref`.
    pub plane: Vec<T>,
    pub has_ref: bool,
    /// Whether `tables` hold the previous picture's codes (for FLAG_REUSE_CODES).
    pub has_codes: bool,
    tables: Box<Tables>,
    scratch: Vec<Scratch<T>>,
}

impl<T: Kernels> DecoderCore<T> {
    pub(crate) fn new() -> Self {
        DecoderCore {
            plane: Vec::new(),
            has_ref: false,
            has_codes: false,
            tables: vec![0; 1 << 16]
                .into_boxed_slice()
                .try_into()
                .expect("table size"),
            scratch: Vec::new(),
        }
    }

    /// Forgets the reference and the codes: the next picture must be a restart.
    pub(crate) fn drop_reference(&mut self) {
        self.has_ref = false;
        self.has_codes = false;
    }

    /// Decodes the picture whose header is `hdr` and whose slice table and slices are `body`
    /// into `self.plane`. On error the plane is partly overwritten; the caller drops the
    /// reference.
    pub(crate) fn decode(
        &mut self,
        hdr: &Header,
        body: &[u8],
        geom: Geom,
        isa: Isa,
        threads: usize,
    ) -> Result<(), VtlError> {
        let intra = hdr.flags & FLAG_INTRA != 0;
        if !intra && !self.has_ref {
            return Err(VtlError::NoReference);
        }
        match &hdr.codes {
            Some(codes) => {
                self.load_codes(codes);
                self.has_codes = true;
            }
            None if !self.has_codes => return Err(VtlError::NoReference),
            None => {}
        }
        let row_len = geom.row_len();
        let total = row_len * geom.rows;
        if self.plane.len() != total {
            self.plane = vec![T::default(); total];
        }
        let slices = hdr.slices;
        let mut cur = Cursor::new(body);
        let mut datas = Vec::with_capacity(slices);
        let mut lens = Vec::with_capacity(slices);
        for _ in 0..slices {
            lens.push(
                cur.u32("slice lengths")
                    .map_err(|m| VtlError::Corrupt(m.to_string()))? as usize,
            );
        }
        for (s, &len) in lens.iter().enumerate() {
            datas.push(
                cur.take(len, &format!("slice {s}"))
                    .map_err(VtlError::Corrupt)?,
            );
        }
        if !cur.rest().is_empty() {
            return Err(VtlError::Corrupt(format!(
                "{} bytes after the last slice",
                cur.rest().len()
            )));
        }
        if self.scratch.len() < slices {
            self.scratch.resize_with(slices, Scratch::default);
        }
        let blocks = hdr.slice_rows.div_ceil(BLOCK) * geom.block_cols();
        for sc in &mut self.scratch[..slices] {
            sc.size(row_len, blocks);
        }
        let job = Job {
            geom,
            slices,
            slice_rows: hdr.slice_rows,
            intra,
            tables: &self.tables,
            thresholds: &hdr.thresholds,
            isa,
        };
        let chunk = (hdr.slice_rows * row_len).max(1);
        let mut work: Vec<SliceJob<T>> = datas
            .into_iter()
            .zip(
                self.plane
                    .chunks_mut(chunk)
                    .chain(std::iter::repeat_with(|| &mut [][..])),
            )
            .zip(self.scratch.iter_mut())
            .enumerate()
            .map(|(s, ((d, rows), sc))| (s, d, rows, sc))
            .collect();
        let threads = threads.clamp(1, slices.max(1));
        if threads == 1 {
            for (s, d, rows, sc) in work.iter_mut() {
                job.slice(*s, d, rows, sc)?;
            }
            return Ok(());
        }
        // Contiguous shares: neighbouring slices touch neighbouring memory.
        let per = slices.div_ceil(threads);
        let job = &job;
        std::thread::scope(|scope| {
            let mut parts = work.chunks_mut(per);
            let mine = parts.next();
            let handles: Vec<_> = parts
                .map(|part| {
                    scope.spawn(move || {
                        for (s, d, rows, sc) in part.iter_mut() {
                            job.slice(*s, d, rows, sc)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            let mut result = Ok(());
            if let Some(part) = mine {
                for (s, d, rows, sc) in part.iter_mut() {
                    if let Err(e) = job.slice(*s, d, rows, sc) {
                        result = Err(e);
                        break;
                    }
                }
            }
            for h in handles {
                let r: Result<(), VtlError> = h.join().expect("slice decoding does not panic");
                if result.is_ok() {
                    result = r;
                }
            }
            result
        })
    }

    fn load_codes(&mut self, codes: &[Code]) {
        for (c, code) in codes.iter().enumerate() {
            let extra = |s: u32| T::symbol(crate::sample::ten_bit_base(s)).2;
            let t = if T::MAX_EXTRA == 0 {
                huffman::decode_table(code, |_| 0)
            } else {
                huffman::decode_table(code, extra)
            };
            self.tables[c * TABLE_SIZE..(c + 1) * TABLE_SIZE].copy_from_slice(&t[..]);
        }
    }
}

/// One slice to decode: index, its bytes, its rows of the plane, its scratch.
type SliceJob<'a, T> = (usize, &'a [u8], &'a mut [T], &'a mut Scratch<T>);

/// What every slice of a picture shares.
struct Job<'a> {
    geom: Geom,
    slices: usize,
    slice_rows: usize,
    intra: bool,
    tables: &'a Tables,
    thresholds: &'a [u16; THRESHOLDS],
    isa: Isa,
}

impl Job<'_> {
    fn slice<T: Kernels>(
        &self,
        s: usize,
        data: &[u8],
        rows: &mut [T],
        sc: &mut Scratch<T>,
    ) -> Result<(), VtlError> {
        let geom = self.geom;
        let row_len = geom.row_len();
        let y0 = s * self.slice_rows;
        let nrows = self.slice_rows.min(geom.rows - y0);
        let err = |what: String| VtlError::CorruptSlice {
            slice: s,
            slices: self.slices,
            first_row: y0,
            end_row: y0 + nrows,
            what,
        };
        let mut cur = Cursor::new(data);
        let bcols = geom.block_cols();
        let brows = nrows.div_ceil(BLOCK);
        let has_modes = match cur.u8("slice kind").map_err(err)? {
            0 => false,
            1 => true,
            k => return Err(err(format!("unknown slice kind {k}"))),
        };
        if has_modes {
            let len = cur.u32("block mode length").map_err(err)? as usize;
            let map = cur.take(len, "block modes").map_err(err)?;
            read_modes(map, brows * bcols, self.intra, &mut sc.modes).map_err(err)?;
        }
        let mut lens = [0usize; STREAMS];
        for l in lens.iter_mut() {
            *l = cur.u32("stream lengths").map_err(err)? as usize;
        }
        let mut readers = [BitReader::new(&[]); STREAMS];
        for (k, (r, &l)) in readers.iter_mut().zip(&lens).enumerate() {
            *r = BitReader::new(cur.take(l, &format!("stream {k}")).map_err(err)?);
        }
        if !cur.rest().is_empty() {
            return Err(err(format!(
                "{} bytes after the last stream",
                cur.rest().len()
            )));
        }
        let ch = geom.ch;
        for br in 0..brows {
            sc.segs.clear();
            if has_modes {
                for b in 0..bcols {
                    let m = sc.modes[br * bcols + b];
                    let (p0, p1) = geom.block_span(b);
                    match sc.segs.last_mut() {
                        Some(last) if last.2 == m => last.1 = p1,
                        _ => sc.segs.push((p0, p1, m)),
                    }
                }
            } else {
                sc.segs.push((0, row_len, MODE_INTRA));
            }
            let any_skip = sc.segs.iter().any(|g| !is_coded(g.2));
            let all_skip = sc.segs.iter().all(|g| g.2 == MODE_SKIP);
            for ry in br * BLOCK..(br * BLOCK + BLOCK).min(nrows) {
                if all_skip {
                    // Static content: nothing coded, the reference already holds the rows.
                    sc.zprev.fill(T::default());
                    continue;
                }
                if ry == 0 {
                    sc.ctx.fill((CTX_FIRST_ROW as u16) << MAX_LEN);
                } else {
                    T::contexts(self.isa, &sc.zprev, ch, self.thresholds, &mut sc.ctx);
                }
                if !any_skip {
                    read_row(self.isa, &mut readers, self.tables, &sc.ctx, &mut sc.zcur);
                } else {
                    let mut n = 0;
                    for &(p0, p1, m) in &sc.segs {
                        if is_coded(m) {
                            sc.ctxc[n..n + p1 - p0].copy_from_slice(&sc.ctx[p0..p1]);
                            n += p1 - p0;
                        }
                    }
                    read_row(
                        self.isa,
                        &mut readers,
                        self.tables,
                        &sc.ctxc[..n],
                        &mut sc.zc[..n],
                    );
                    let mut n = 0;
                    for &(p0, p1, m) in &sc.segs {
                        if !is_coded(m) {
                            sc.zcur[p0..p1].fill(T::default());
                        } else {
                            sc.zcur[p0..p1].copy_from_slice(&sc.zc[n..n + p1 - p0]);
                            n += p1 - p0;
                        }
                    }
                }
                let (done, rest) = rows.split_at_mut(ry * row_len);
                let row = &mut rest[..row_len];
                let above: &[T] = if ry == 0 {
                    &sc.zeros
                } else {
                    &done[(ry - 1) * row_len..]
                };
                for &(p0, p1, m) in &sc.segs {
                    // Zero-residual blocks run their predictor's kernel on the zeros above.
                    let m = base_mode(m);
                    match m {
                        MODE_INTRA | MODE_HALF => {
                            let pred = if m == MODE_HALF {
                                Pred::Half
                            } else {
                                Pred::Grad
                            };
                            T::intra(self.isa, pred, &sc.zcur[p0..p1], above, row, p0, ch);
                        }
                        MODE_INTER => T::inter(self.isa, &sc.zcur[p0..p1], &mut row[p0..p1]),
                        MODE_UP => T::up(self.isa, &sc.zcur[p0..p1], above, row, p0, ch),
                        _ => {}
                    }
                }
                std::mem::swap(&mut sc.zprev, &mut sc.zcur);
            }
        }
        for (k, r) in readers.iter().enumerate() {
            if !r.exhausted_exactly() {
                return Err(err(format!(
                    "stream {k} of {} bytes does not end where its symbols end",
                    lens[k]
                )));
            }
        }
        Ok(())
    }
}
