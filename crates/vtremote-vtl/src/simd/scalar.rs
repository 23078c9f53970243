//! The portable reference kernels. Every SIMD kernel must produce exactly what these produce
//! (the property tests in simd/mod.rs run both on the same inputs).

use crate::huffman::MAX_LEN;
use crate::sample::Sample;

/// The two intra predictors: `x[i-ch] + vterm(b, c)` with `b` above and `c` above-left (same
/// channel). Both have `x[i-ch]` with weight 1, so decoding a row is a prefix sum of
/// `residual + vterm`, which vectorises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pred {
    /// `a + b - c`: exact on planes and ramps.
    Grad,
    /// `a + floor((b - c) / 2)`: half the vertical term, so half the noise of the row above
    /// enters the prediction (residual variance 2.5σ² on grain instead of 4σ²).
    Half,
}

/// The vertical term of `pred`, modulo 2^BITS.
#[inline(always)]
pub(crate) fn vterm<T: Sample>(pred: Pred, b: T, c: T) -> T {
    match pred {
        Pred::Grad => b.wsub(c),
        Pred::Half => {
            // floor((b - c) / 2) without a wider type: halve both, minus 1 when b is even and
            // c odd.
            let (b, c) = (b.get(), c.get());
            T::wrap((b >> 1).wrapping_sub(c >> 1).wrapping_sub(!b & c & 1))
        }
    }
}

/// Reconstructs samples `p0 .. p0 + z.len()` of `row`, whose samples left of `p0` are already
/// decoded: `x[i] = x[i-ch] + vterm(above[i], above[i-ch]) + unzigzag(z)`, and for the first
/// sample of each channel (`i < ch`) `x[i] = above[i] + unzigzag(z)`.
pub(crate) fn intra<T: Sample>(
    pred: Pred,
    z: &[T],
    above: &[T],
    row: &mut [T],
    p0: usize,
    ch: usize,
) {
    let p1 = p0 + z.len();
    // The first sample of each channel predicts from above only.
    let i0 = p0.max(ch).min(p1);
    for i in p0..i0 {
        row[i] = above[i].wadd(z[i - p0].unzigzag());
    }
    if i0 == p1 {
        return;
    }
    // Then one running value per channel: x[i] = x[i-ch] + vterm + residual. Walking whole
    // channel groups keeps the channel index fixed in the inner loop (no division).
    let mut x = [T::default(); 4];
    x[..ch].copy_from_slice(&row[i0 - ch..i0]);
    let (zs, bs, cs) = (&z[i0 - p0..], &above[i0..p1], &above[i0 - ch..p1 - ch]);
    let os = &mut row[i0..p1];
    for (((o, zc), bc), cc) in os
        .chunks_mut(ch)
        .zip(zs.chunks(ch))
        .zip(bs.chunks(ch))
        .zip(cs.chunks(ch))
    {
        for k in 0..o.len() {
            x[k] = x[k].wadd(vterm(pred, bc[k], cc[k])).wadd(zc[k].unzigzag());
            o[k] = x[k];
        }
    }
}

/// The smoothed-up predictor `(c + 2b + d + 2) >> 2` over the row above: `b` above, `c` and
/// `d` one channel group left and right of it (`b` again past the row's ends). It does not
/// use the current row at all, so its inverse is a plain add; it averages the noise of three
/// samples (residual variance 1.375σ² on grain), which the gradient family cannot.
#[inline(always)]
pub(crate) fn up_pred<T: Sample>(above: &[T], i: usize, ch: usize) -> T {
    let b = above[i].get();
    let c = if i >= ch { above[i - ch].get() } else { b };
    let d = above.get(i + ch).map_or(b, |v| v.get());
    T::wrap((c + 2 * b + d + 2) >> 2)
}

/// Reconstructs an UP run: `row[i] = up_pred(above, i) + unzigzag(z[i - p0])`.
pub(crate) fn up<T: Sample>(z: &[T], above: &[T], row: &mut [T], p0: usize, ch: usize) {
    let p1 = p0 + z.len();
    // Samples with both neighbours above take the branch-free loop (it vectorises).
    let i0 = p0.max(ch).min(p1);
    let i1 = p1.min(above.len().saturating_sub(ch)).max(i0);
    for i in (p0..i0).chain(i1..p1) {
        row[i] = up_pred(above, i, ch).wadd(z[i - p0].unzigzag());
    }
    if i1 > i0 {
        let it = row[i0..i1]
            .iter_mut()
            .zip(&z[i0 - p0..i1 - p0])
            .zip(&above[i0 - ch..i1 - ch])
            .zip(&above[i0..i1])
            .zip(&above[i0 + ch..i1 + ch]);
        for ((((o, &zz), &c), &b), &d) in it {
            let p = T::wrap((c.get() + 2 * b.get() + d.get() + 2) >> 2);
            *o = p.wadd(zz.unzigzag());
        }
    }
}

/// Reconstructs an INTER run in place: `out` holds the reference samples.
pub(crate) fn inter<T: Sample>(z: &[T], out: &mut [T]) {
    for (o, &zz) in out.iter_mut().zip(z) {
        *o = o.wadd(zz.unzigzag());
    }
}

/// Contexts of a row from the zigzag residuals of the row above: `act = z[i-ch] + 2 z[i] +
/// z[i+ch]` (a missing neighbour counts as `z[i]`), context = number of thresholds below `act`,
/// stored as `context << 11`: the offset of its decode table.
pub(crate) fn contexts<T: Sample>(z: &[T], ch: usize, thr: &[u16; 6], out: &mut [u16]) {
    let n = z.len();
    let edge = |i: usize| {
        let mid = z[i].get();
        let l = if i >= ch { z[i - ch].get() } else { mid };
        let r = if i + ch < n { z[i + ch].get() } else { mid };
        (ctx_of(l + 2 * mid + r, thr) as u16) << MAX_LEN
    };
    if n <= 2 * ch {
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = edge(i);
        }
        return;
    }
    for i in (0..ch).chain(n - ch..n) {
        out[i] = edge(i);
    }
    // The interior, branch-free in u16 (activity <= 4 × 1023), so it vectorises.
    let it = out[ch..n - ch]
        .iter_mut()
        .zip(&z[..n - 2 * ch])
        .zip(&z[ch..n - ch])
        .zip(&z[2 * ch..]);
    for (((o, &l), &m), &r) in it {
        let act = l.get() as u16 + 2 * m.get() as u16 + r.get() as u16;
        let mut c = 0u16;
        for &t in thr {
            c += (act > t) as u16;
        }
        *o = c << MAX_LEN;
    }
}

#[inline(always)]
pub(crate) fn ctx_of(act: u32, thr: &[u16; 6]) -> u8 {
    thr.iter().map(|&t| (act > t as u32) as u8).sum()
}
