//! Picture encoding, generic over the sample domain, in three passes: per slice (in
//! parallel) choose block modes, compute residuals, contexts and histograms; once per
//! picture build the codes; per slice (in parallel) write the streams.

use crate::bits::BitWriter;

use crate::format::*;
use crate::huffman::{self, Code, MAX_LEN};
use crate::sample::Sample;
use crate::simd::scalar::{up_pred, vterm};
use crate::simd::{write_row, Isa, Kernels, Pred};

/// One slice's analysis and output, kept between pictures so nothing is reallocated.
#[derive(Default)]
struct SliceWork<T> {
    /// Block modes, `brows × bcols`, when the picture uses the reference.
    modes: Vec<u8>,
    /// Coded samples' zigzag residuals and contexts, in coding order.
    z: Vec<T>,
    ctx: Vec<u16>,
    /// Coded samples per row.
    row_counts: Vec<usize>,
    hist: Vec<u32>,
    // Scratch rows.
    zscratch: Vec<T>,
    zeros: Vec<T>,
    zprev: Vec<T>,
    ctx_row: Vec<u16>,
    costs: [Vec<u32>; 4],
    diff: Vec<u32>,
    /// A block row's residuals and contexts while its zero-residual blocks are decided.
    zblk: Vec<T>,
    cblk: Vec<u16>,
    out: Vec<u8>,
    writers: Option<Box<[BitWriter; STREAMS]>>,
}

pub(crate) struct EncoderCore<T> {
    /// The last coded picture: the reference of the next one while `has_ref`.
    pub refp: Vec<T>,
    pub has_ref: bool,
    /// The codes of the last picture (for FLAG_REUSE_CODES).
    pub codes: Option<Vec<Code>>,
    work: Vec<SliceWork<T>>,
    /// Tests only: code every block that is not SKIP in this mode (one of CANDIDATES), so
    /// every reconstruction path is exercised whatever the content favours.
    pub force_mode: Option<u8>,
    /// The code of every (context, zigzag value), indexed `ctx << BITS | z`; 2^16 entries so
    /// the writer's u16 index needs no bounds check.
    zcodes: Option<Box<[u32; 1 << 16]>>,
}

/// What the picture-level code passes down to slices.
struct Frame<'a, T> {
    geom: Geom,
    slice_rows: usize,
    cur: &'a [T],
    refp: Option<&'a [T]>,
    thresholds: [u16; THRESHOLDS],
    isa: Isa,
    force_mode: Option<u8>,
}

impl<T: Kernels> EncoderCore<T> {
    pub(crate) fn new() -> Self {
        EncoderCore {
            refp: Vec::new(),
            has_ref: false,
            codes: None,
            work: Vec::new(),
            force_mode: None,
            zcodes: None,
        }
    }

    /// Appends the picture `cur` (`geom.row_len() * geom.rows` samples) to `out`. `flags`
    /// carries FLAG_BYTES when the caller codes a P010 plane as bytes. The caller then makes
    /// `cur` the reference with [`EncoderCore::keep_copy`] or [`EncoderCore::keep_swap`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode(
        &mut self,
        cur: &[T],
        geom: Geom,
        format: u8,
        channels: u8,
        mut flags: u8,
        restart: bool,
        thresholds: [u16; THRESHOLDS],
        isa: Isa,
        threads: usize,
        out: &mut Vec<u8>,
    ) {
        let intra = restart || !self.has_ref || self.refp.len() != cur.len();
        if intra {
            flags |= FLAG_INTRA;
        }
        let slice_rows = default_slice_rows(geom.rows);
        let slices = geom.rows.div_ceil(slice_rows);
        if self.work.len() < slices {
            self.work.resize_with(slices, SliceWork::default);
        }
        let frame = Frame {
            geom,
            slice_rows,
            cur,
            refp: (!intra).then_some(&self.refp[..]),
            thresholds,
            isa,
            force_mode: self.force_mode.filter(|&m| m != MODE_INTER || !intra),
        };
        let work = &mut self.work[..slices];
        run_slices(work, threads, |s, w| frame.analyse(s, w));

        // Codes from the whole picture's histograms.
        let alphabet = T::ALPHABET;
        let mut hist = vec![0u32; CONTEXTS * alphabet];
        for w in work.iter() {
            for (h, &x) in hist.iter_mut().zip(&w.hist) {
                *h += x;
            }
        }
        let extra = |s: usize| T::symbol(crate::sample::ten_bit_base(s as u32)).2;
        let new_codes: Vec<Code> = hist
            .chunks(alphabet)
            .map(|h| huffman::code_for(h, MAX_LEN))
            .collect();
        let mut reuse = false;
        if let (false, Some(old)) = (intra, &self.codes) {
            // Reuse the previous picture's codes when that costs no more than sending new
            // ones: on steady content it saves the ~1 KiB of code descriptions per picture.
            let old_cost: Option<u64> = old
                .iter()
                .zip(hist.chunks(alphabet))
                .map(|(c, h)| {
                    if h.iter().all(|&x| x == 0) {
                        Some(0)
                    } else {
                        huffman::cost_bits(c, h, extra)
                    }
                })
                .sum();
            let mut desc = Vec::new();
            for c in &new_codes {
                huffman::write_code(c, &mut desc);
            }
            let new_cost: u64 = new_codes
                .iter()
                .zip(hist.chunks(alphabet))
                .map(|(c, h)| huffman::cost_bits(c, h, extra).unwrap_or(0))
                .sum::<u64>()
                + desc.len() as u64 * 8;
            reuse = old_cost.is_some_and(|c| c <= new_cost);
        }
        if reuse {
            flags |= FLAG_REUSE_CODES;
        } else {
            self.codes = Some(new_codes);
        }
        let codes = self.codes.as_ref().expect("codes were just set or reused");
        let zcodes = self
            .zcodes
            .get_or_insert_with(|| vec![0; 1 << 16].try_into().expect("2^16"));
        z_codes::<T>(codes, zcodes);
        let zcodes = &**zcodes;

        let hdr = Header {
            flags,
            format,
            channels,
            width: geom.width as u32,
            rows: geom.rows as u32,
            slices,
            slice_rows,
            thresholds,
            codes: (!reuse).then(|| codes.clone()),
        };
        let zbits = T::BITS;
        run_slices(work, threads, |_, w| write_slice(w, zcodes, zbits, isa));

        hdr.write(out);
        for w in work.iter() {
            out.extend_from_slice(&(w.out.len() as u32).to_le_bytes());
        }
        for w in work.iter() {
            out.extend_from_slice(&w.out);
        }
    }

    /// Makes `cur`, the picture just coded, the reference (copied: the caller keeps it).
    pub(crate) fn keep_copy(&mut self, cur: &[T]) {
        self.refp.clear();
        self.refp.extend_from_slice(cur);
        self.has_ref = true;
    }

    /// Makes `cur`, the picture just coded, the reference by swapping buffers: `cur` gets the
    /// old reference's allocation to fill next time.
    pub(crate) fn keep_swap(&mut self, cur: &mut Vec<T>) {
        std::mem::swap(&mut self.refp, cur);
        self.has_ref = true;
    }
}

/// Runs `f` on every slice, on up to `threads` threads in contiguous shares.
fn run_slices<T: Send, F>(work: &mut [SliceWork<T>], threads: usize, f: F)
where
    F: Fn(usize, &mut SliceWork<T>) + Sync,
{
    let n = work.len();
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        for (s, w) in work.iter_mut().enumerate() {
            f(s, w);
        }
        return;
    }
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = work.chunks_mut(per).enumerate();
        let mine = parts.next();
        for (p, part) in parts {
            scope.spawn(move || {
                for (k, w) in part.iter_mut().enumerate() {
                    f(p * per + k, w);
                }
            });
        }
        if let Some((_, part)) = mine {
            for (k, w) in part.iter_mut().enumerate() {
                f(k, w);
            }
        }
    });
}

/// The encoder's code per (context, zigzag value): bits in the low 16 bits (raw extra bits
/// folded in after the code), total length in the high 16.
fn z_codes<T: Sample>(codes: &[Code], t: &mut [u32; 1 << 16]) {
    let zn = 1usize << T::BITS;
    for (c, code) in codes.iter().enumerate() {
        let enc = huffman::encode_table(code, T::ALPHABET);
        for z in 0..zn {
            let (sym, x, nx) = T::symbol(z as u32);
            let (bits, len) = enc[sym as usize];
            t[c * zn + z] = (bits | x << len) | (len + nx) << 16;
        }
    }
}

/// Block modes the encoder tries, in the order of its cost arrays.
const CANDIDATES: [u8; 4] = [MODE_INTRA, MODE_HALF, MODE_UP, MODE_INTER];

/// The mode decision looks at every DECISION_STEP-th row of a block: half the work, and a
/// 16x8 sample of a 16x16 block ranks the predictors the same way almost always.
const DECISION_STEP: usize = 2;

impl<T: Kernels> Frame<'_, T> {
    fn analyse(&self, s: usize, w: &mut SliceWork<T>) {
        let geom = self.geom;
        let row_len = geom.row_len();
        let ch = geom.ch;
        let y0 = s * self.slice_rows;
        let nrows = self.slice_rows.min(geom.rows - y0);
        let bcols = geom.block_cols();
        let brows = nrows.div_ceil(BLOCK);
        w.z.clear();
        w.ctx.clear();
        w.row_counts.clear();
        w.modes.clear();
        w.hist.clear();
        w.hist.resize(CONTEXTS * T::ALPHABET, 0);
        w.zscratch.resize(row_len, T::default());
        w.zeros.clear();
        w.zeros.resize(row_len, T::default());
        w.zprev.resize(row_len, T::default());
        w.ctx_row.resize(row_len, 0);
        let rows = &self.cur[y0 * row_len..(y0 + nrows) * row_len];
        let refs = self.refp.map(|r| &r[y0 * row_len..(y0 + nrows) * row_len]);
        let kinds = if refs.is_some() { 4 } else { 3 };
        let mut modes_row = vec![MODE_INTRA; bcols];
        let mut segs: Vec<(usize, usize, u8)> = Vec::with_capacity(bcols);
        let mut zcand = vec![false; bcols];
        for br in 0..brows {
            let r0 = br * BLOCK;
            let r1 = (r0 + BLOCK).min(nrows);
            for c in w.costs.iter_mut() {
                c.clear();
                c.resize(bcols, 0);
            }
            w.diff.clear();
            w.diff.resize(bcols, 0);
            for ry in r0..r1 {
                let x = &rows[ry * row_len..(ry + 1) * row_len];
                let rr = refs.map(|r| &r[ry * row_len..(ry + 1) * row_len]);
                if !(ry - r0).is_multiple_of(DECISION_STEP) {
                    // Rows the decision skips still decide SKIP, which must be exact.
                    if let Some(rr) = rr {
                        block_diff(x, rr, geom, &mut w.diff);
                    }
                    continue;
                }
                let above = if ry > 0 {
                    &rows[(ry - 1) * row_len..ry * row_len]
                } else {
                    &w.zeros
                };
                for (k, &mode) in CANDIDATES.iter().enumerate().take(kinds) {
                    residuals(mode, x, above, rr, ch, 0, row_len, &mut w.zscratch);
                    block_sums(&w.zscratch, geom, &mut w.costs[k]);
                }
            }
            // Cost proxy: the sum of zigzag residuals (about twice the SAD); ties go to the
            // earlier candidate. SKIP: equal to the reference on every row.
            for (b, m) in modes_row.iter_mut().enumerate() {
                zcand[b] = false;
                if refs.is_some() && w.costs[3][b] == 0 && w.diff[b] == 0 {
                    *m = MODE_SKIP;
                    continue;
                }
                let mut best = 0;
                for k in 1..kinds {
                    if w.costs[k][b] < w.costs[best][b] {
                        best = k;
                    }
                }
                *m = self.force_mode.unwrap_or(CANDIDATES[best]);
                // A spatial mode with no residual on the rows sampled may have none at all:
                // checked on every row below.
                let k = CANDIDATES.iter().position(|&c| c == *m).unwrap_or(0);
                zcand[b] = zero_mode(*m).is_some() && w.costs[k][b] == 0;
            }
            let try_zero = zcand.iter().any(|&c| c);
            if try_zero {
                let n = (r1 - r0) * row_len;
                w.zblk.resize(n, T::default());
                w.cblk.resize(n, 0);
                w.diff.fill(0);
            }
            build_segs(&modes_row, geom, &mut segs);
            let any_uncoded = segs.iter().any(|g| !is_coded(g.2));
            for ry in r0..r1 {
                if ry == 0 {
                    w.ctx_row.fill((CTX_FIRST_ROW as u16) << MAX_LEN);
                } else {
                    T::contexts(self.isa, &w.zprev, ch, &self.thresholds, &mut w.ctx_row);
                }
                let x = &rows[ry * row_len..(ry + 1) * row_len];
                let above = if ry > 0 {
                    &rows[(ry - 1) * row_len..ry * row_len]
                } else {
                    &w.zeros
                };
                let rr = refs.map(|r| &r[ry * row_len..(ry + 1) * row_len]);
                for &(p0, p1, m) in &segs {
                    residuals(m, x, above, rr, ch, p0, p1, &mut w.zprev);
                }
                if try_zero {
                    // Keep the block row's residuals until its zero blocks are known; their
                    // residuals are zero, so the contexts computed meanwhile stay valid.
                    let at = (ry - r0) * row_len;
                    w.zblk[at..at + row_len].copy_from_slice(&w.zprev);
                    w.cblk[at..at + row_len].copy_from_slice(&w.ctx_row);
                    block_or(&w.zprev, geom, &mut w.diff);
                } else {
                    let n = emit_row(
                        &mut w.z,
                        &mut w.ctx,
                        &w.zprev,
                        &w.ctx_row,
                        &segs,
                        any_uncoded,
                    );
                    w.row_counts.push(n);
                }
            }
            if try_zero {
                for (b, m) in modes_row.iter_mut().enumerate() {
                    if zcand[b] && w.diff[b] == 0 {
                        *m = zero_mode(*m).unwrap_or(*m);
                    }
                }
                build_segs(&modes_row, geom, &mut segs);
                let any_uncoded = segs.iter().any(|g| !is_coded(g.2));
                for (zr, cr) in w
                    .zblk
                    .chunks_exact(row_len)
                    .zip(w.cblk.chunks_exact(row_len))
                {
                    let n = emit_row(&mut w.z, &mut w.ctx, zr, cr, &segs, any_uncoded);
                    w.row_counts.push(n);
                }
            }
            w.modes.extend_from_slice(&modes_row);
        }
        if w.modes.iter().all(|&m| m == MODE_INTRA) {
            // The common restart case: slice kind 0, no mode map.
            w.modes.clear();
        }
        histogram::<T>(&w.z, &w.ctx, &mut w.hist);
    }
}

/// Runs of equal modes over one block row: (first sample, end sample, mode).
fn build_segs(modes_row: &[u8], geom: Geom, segs: &mut Vec<(usize, usize, u8)>) {
    segs.clear();
    for (b, &m) in modes_row.iter().enumerate() {
        let (p0, p1) = geom.block_span(b);
        match segs.last_mut() {
            Some(last) if last.2 == m => last.1 = p1,
            _ => segs.push((p0, p1, m)),
        }
    }
}

/// Appends the coded samples of one row (residuals `zr`, contexts `cr`) and returns how many.
fn emit_row<T: Sample>(
    z: &mut Vec<T>,
    ctx: &mut Vec<u16>,
    zr: &[T],
    cr: &[u16],
    segs: &[(usize, usize, u8)],
    any_uncoded: bool,
) -> usize {
    let before = z.len();
    if !any_uncoded {
        z.extend_from_slice(zr);
        ctx.extend_from_slice(cr);
    } else {
        for &(p0, p1, m) in segs {
            if is_coded(m) {
                z.extend_from_slice(&zr[p0..p1]);
                ctx.extend_from_slice(&cr[p0..p1]);
            }
        }
    }
    z.len() - before
}

/// ORs into `acc[b]` the zigzag residuals of block `b` of one row (non-zero: not all zero).
fn block_or<T: Sample>(z: &[T], geom: Geom, acc: &mut [u32]) {
    let bw = BLOCK * geom.ch;
    for (a, c) in acc.iter_mut().zip(z.chunks(bw)) {
        *a |= c.iter().fold(0u16, |o, v| o | v.get() as u16) as u32;
    }
}

/// ORs into `diff[b]` whether block `b` of row `x` differs from the reference row `r`.
fn block_diff<T: Sample>(x: &[T], r: &[T], geom: Geom, diff: &mut [u32]) {
    let bw = BLOCK * geom.ch;
    for ((d, xc), rc) in diff.iter_mut().zip(x.chunks(bw)).zip(r.chunks(bw)) {
        // u16 lanes (samples are at most 10 bits): the loop vectorises 8 or 16 wide.
        let or = xc.iter().zip(rc).fold(0u16, |acc, (&a, &b)| {
            acc | (a.get() as u16 ^ b.get() as u16)
        });
        *d |= or as u32;
    }
}

/// Adds each block's share of one row of zigzag residuals to `sums`.
fn block_sums<T: Sample>(z: &[T], geom: Geom, sums: &mut [u32]) {
    let bw = BLOCK * geom.ch;
    for (s, c) in sums.iter_mut().zip(z.chunks(bw)) {
        // At most 64 values of at most 255, or 32 of at most 1023: the sum fits u16, whose
        // lanes vectorise 8 or 16 wide where u32 would take 4.
        *s += c.iter().fold(0u16, |a, v| a.wrapping_add(v.get() as u16)) as u32;
    }
}

/// Zigzag residuals of block mode `mode` for samples `p0..p1` of row `x` into `out[p0..p1]`:
/// the inverse of what the decoder does (decoder.rs, simd/scalar.rs). SKIP gives zeros.
#[allow(clippy::too_many_arguments)]
fn residuals<T: Sample>(
    mode: u8,
    x: &[T],
    above: &[T],
    refrow: Option<&[T]>,
    ch: usize,
    p0: usize,
    p1: usize,
    out: &mut [T],
) {
    let n = x.len();
    // Loops over zipped, offset slices (no indexing) so the compiler vectorises them.
    match mode {
        MODE_INTRA | MODE_HALF => {
            let h = ch.min(p1).max(p0);
            for ((o, &xv), &bv) in out[p0..h].iter_mut().zip(&x[p0..h]).zip(&above[p0..h]) {
                *o = xv.wsub(bv).zigzag();
            }
            if h == p1 {
                return;
            }
            let o = &mut out[h..p1];
            let (xs, xl) = (&x[h..p1], &x[h - ch..p1 - ch]);
            let (bs, bl) = (&above[h..p1], &above[h - ch..p1 - ch]);
            let it = o.iter_mut().zip(xs).zip(xl).zip(bs).zip(bl);
            if mode == MODE_INTRA {
                for ((((o, &x), &a), &b), &c) in it {
                    *o = x.wsub(a).wsub(b.wsub(c)).zigzag();
                }
            } else {
                for ((((o, &x), &a), &b), &c) in it {
                    *o = x.wsub(a).wsub(vterm(Pred::Half, b, c)).zigzag();
                }
            }
        }
        MODE_UP => {
            let i0 = ch.min(p1).max(p0);
            let i1 = n.saturating_sub(ch).min(p1).max(i0);
            for i in (p0..i0).chain(i1..p1) {
                out[i] = x[i].wsub(up_pred(above, i, ch)).zigzag();
            }
            if i1 == i0 {
                return;
            }
            let it = out[i0..i1]
                .iter_mut()
                .zip(&x[i0..i1])
                .zip(&above[i0 - ch..i1 - ch])
                .zip(&above[i0..i1])
                .zip(&above[i0 + ch..i1 + ch]);
            for ((((o, &x), &c), &b), &d) in it {
                let p = T::wrap((c.get() + 2 * b.get() + d.get() + 2) >> 2);
                *o = x.wsub(p).zigzag();
            }
        }
        MODE_INTER => {
            let r = refrow.expect("INTER only with a reference");
            for ((o, &x), &p) in out[p0..p1].iter_mut().zip(&x[p0..p1]).zip(&r[p0..p1]) {
                *o = x.wsub(p).zigzag();
            }
        }
        _ => out[p0..p1].fill(T::default()),
    }
}

fn histogram<T: Sample>(z: &[T], ctx: &[u16], hist: &mut [u32]) {
    // Four interleaved copies: runs of one symbol (zeros in flat areas) would otherwise make
    // every increment wait for the previous store to the same counter.
    let a = T::ALPHABET;
    let mut h = vec![0u32; 4 * CONTEXTS * a];
    let (h01, h23) = h.split_at_mut(2 * CONTEXTS * a);
    let (h0, h1) = h01.split_at_mut(CONTEXTS * a);
    let (h2, h3) = h23.split_at_mut(CONTEXTS * a);
    let idx = |zz: T, c: u16| (c as usize >> MAX_LEN & 7) * a + T::symbol(zz.get()).0 as usize;
    let n4 = z.len() / 4 * 4;
    for (zc, cc) in z[..n4].chunks_exact(4).zip(ctx[..n4].chunks_exact(4)) {
        h0[idx(zc[0], cc[0])] += 1;
        h1[idx(zc[1], cc[1])] += 1;
        h2[idx(zc[2], cc[2])] += 1;
        h3[idx(zc[3], cc[3])] += 1;
    }
    for (&zz, &c) in z[n4..].iter().zip(&ctx[n4..]) {
        h0[idx(zz, c)] += 1;
    }
    for (i, o) in hist.iter_mut().enumerate() {
        *o = h0[i] + h1[i] + h2[i] + h3[i];
    }
}

fn write_slice<T: Sample>(w: &mut SliceWork<T>, zcodes: &[u32; 1 << 16], zbits: u32, isa: Isa) {
    w.out.clear();
    if w.modes.is_empty() {
        w.out.push(0);
    } else {
        w.out.push(1);
        let at = w.out.len();
        w.out.extend_from_slice(&[0; 4]);
        write_modes(&w.modes, &mut w.out);
        let len = (w.out.len() - at - 4) as u32;
        w.out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    let writers = w
        .writers
        .get_or_insert_with(|| Box::new(std::array::from_fn(|_| BitWriter::new())));
    let max_syms = w.z.len() / STREAMS + w.row_counts.len();
    let max_bits = max_syms * (MAX_LEN + T::MAX_EXTRA) as usize;
    for wr in writers.iter_mut() {
        wr.reset(max_bits);
    }
    let mut off = 0;
    for &n in &w.row_counts {
        write_row(
            isa,
            writers,
            zcodes,
            zbits,
            &w.z[off..off + n],
            &w.ctx[off..off + n],
        );
        off += n;
    }
    let len_at = w.out.len();
    w.out.extend_from_slice(&[0; 4 * STREAMS]);
    for (k, wr) in writers.iter_mut().enumerate() {
        let bytes = wr.finish();
        let l = bytes.len() as u32;
        w.out.extend_from_slice(bytes);
        w.out[len_at + 4 * k..len_at + 4 * k + 4].copy_from_slice(&l.to_le_bytes());
    }
}
