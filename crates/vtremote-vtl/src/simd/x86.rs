//! SSE2 and AVX2 kernels. Each entry point returns false when it has no version for the
//! case (an unusual channel count), and the caller falls back to the scalar kernel.
//!
//! Loads and stores go through helpers that take array references, so the unsafe operations
//! are the pointer accesses in those helpers and the calls into `#[target_feature]`
//! functions, whose CPU requirement is checked once in `Isa::available`.

#![deny(unsafe_op_in_unsafe_fn)]

use super::Isa;
use crate::huffman::MAX_LEN;
use crate::sample::Sample;
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "sse2")]
fn load16(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; loadu has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store16(b: &mut [u8; 16], v: __m128i) {
    // SAFETY: `b` is 16 writable bytes, borrowed exclusively; storeu has no alignment need.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn load8(b: &[u8; 8]) -> __m128i {
    // SAFETY: `b` is 8 readable bytes; movq has no alignment requirement.
    unsafe { _mm_loadl_epi64(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn load32(b: &[u8; 32]) -> __m256i {
    // SAFETY: `b` is 32 readable bytes; loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store32(b: &mut [u8; 32], v: __m256i) {
    // SAFETY: `b` is 32 writable bytes, borrowed exclusively; storeu has no alignment need.
    unsafe { _mm256_storeu_si256(b.as_mut_ptr().cast(), v) }
}

/// A sample slice as its bytes (little endian lanes, which is what the x86 loads see).
fn as_bytes<T: Sample>(s: &[T]) -> &[u8] {
    // SAFETY: T is u8 or u16 (the only `Sample` types): plain integers, so every byte is
    // initialised and u8's alignment is 1; the length covers exactly the borrowed memory.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), std::mem::size_of_val(s)) }
}

fn as_bytes_mut<T: Sample>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; and every byte pattern is a valid u8 or u16, so writes through
    // the byte view keep the samples valid. The exclusive borrow moves into the result.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), std::mem::size_of_val(s)) }
}

// ---------------------------------------------------------------------------------------
// Intra reconstruction: e = prefix sum of unzigzag(z) per channel, x = above + e.

#[inline]
#[target_feature(enable = "sse2")]
fn add<const W16: bool>(a: __m128i, b: __m128i) -> __m128i {
    if W16 {
        _mm_add_epi16(a, b)
    } else {
        _mm_add_epi8(a, b)
    }
}

#[inline]
#[target_feature(enable = "sse2")]
fn unzig<const W16: bool>(z: __m128i) -> __m128i {
    if W16 {
        let neg = _mm_sub_epi16(_mm_setzero_si128(), _mm_and_si128(z, _mm_set1_epi16(1)));
        _mm_xor_si128(_mm_srli_epi16(z, 1), neg)
    } else {
        let half = _mm_and_si128(_mm_srli_epi16(z, 1), _mm_set1_epi8(0x7f));
        let neg = _mm_sub_epi8(_mm_setzero_si128(), _mm_and_si128(z, _mm_set1_epi8(1)));
        _mm_xor_si128(half, neg)
    }
}

/// Inclusive prefix sum over groups of G bytes (G = channels × sample size): each lane gets
/// the sum of itself and the lanes G, 2G, ... bytes before it (its own channel).
#[inline]
#[target_feature(enable = "sse2")]
fn prefix<const W16: bool, const G: usize>(mut v: __m128i) -> __m128i {
    if G == 1 {
        v = add::<W16>(v, _mm_slli_si128::<1>(v));
    }
    if G <= 2 {
        v = add::<W16>(v, _mm_slli_si128::<2>(v));
    }
    v = add::<W16>(v, _mm_slli_si128::<4>(v));
    add::<W16>(v, _mm_slli_si128::<8>(v))
}

/// The last G-byte group of `v`, repeated over the whole vector.
#[inline]
#[target_feature(enable = "sse2")]
fn last_group<const G: usize>(v: __m128i) -> __m128i {
    let w = if G == 1 { _mm_unpackhi_epi8(v, v) } else { v };
    let d = if G <= 2 {
        _mm_shufflehi_epi16::<0xff>(w)
    } else {
        w
    };
    _mm_shuffle_epi32::<0xff>(d)
}

/// The vertical term of the predictor for 16 bytes of lanes: `b - c`, or for the half
/// predictor `(b >> 1) - (c >> 1) - (!b & c & 1)` = floor((b - c) / 2).
#[inline]
#[target_feature(enable = "sse2")]
fn vterm<const W16: bool, const HALF: bool>(b: __m128i, c: __m128i) -> __m128i {
    if !HALF {
        return if W16 {
            _mm_sub_epi16(b, c)
        } else {
            _mm_sub_epi8(b, c)
        };
    }
    let odd = _mm_and_si128(_mm_andnot_si128(b, c), _mm_set1_epi8(1));
    if W16 {
        // 10-bit values: the shifted halves need no mask.
        let d = _mm_sub_epi16(_mm_srli_epi16(b, 1), _mm_srli_epi16(c, 1));
        _mm_sub_epi16(d, _mm_and_si128(odd, _mm_set1_epi16(1)))
    } else {
        let m = _mm_set1_epi8(0x7f);
        let hb = _mm_and_si128(_mm_srli_epi16(b, 1), m);
        let hc = _mm_and_si128(_mm_srli_epi16(c, 1), m);
        _mm_sub_epi8(_mm_sub_epi8(hb, hc), odd)
    }
}

/// One 16-byte step: `y = unzig(z) + vterm(b, c)`, prefix-summed per channel, plus the carry
/// (the previous samples of each channel, repeated).
#[inline]
#[target_feature(enable = "sse2")]
fn step<const W16: bool, const HALF: bool, const G: usize>(
    z: __m128i,
    b: __m128i,
    c: __m128i,
    carry: __m128i,
) -> __m128i {
    let y = add::<W16>(unzig::<W16>(z), vterm::<W16, HALF>(b, c));
    add::<W16>(prefix::<W16, G>(y), carry)
}

/// SSE2 over whole 16-byte chunks of `z`; returns the bytes done. `above` and `left_above`
/// are the row above at the chunk's samples and one channel group earlier; `carry` the
/// decoded samples one channel group before the first chunk.
#[target_feature(enable = "sse2")]
fn intra_sse2<const W16: bool, const HALF: bool, const G: usize>(
    z: &[u8],
    above: &[u8],
    left_above: &[u8],
    out: &mut [u8],
    carry: __m128i,
) -> usize {
    let mut c = carry;
    let n = z.len() / 16 * 16;
    for (((zc, bc), cc), oc) in z[..n]
        .chunks_exact(16)
        .zip(above[..n].chunks_exact(16))
        .zip(left_above[..n].chunks_exact(16))
        .zip(out[..n].chunks_exact_mut(16))
    {
        let x = step::<W16, HALF, G>(
            load16(zc.try_into().expect("16")),
            load16(bc.try_into().expect("16")),
            load16(cc.try_into().expect("16")),
            c,
        );
        c = last_group::<G>(x);
        let x = if W16 {
            _mm_and_si128(x, _mm_set1_epi16(0x3ff))
        } else {
            x
        };
        store16(oc.try_into().expect("16"), x);
    }
    n
}

/// AVX2 over whole 32-byte chunks: loads and stores 32 bytes, the prefix per 128-bit half
/// (the high half's carry is the low half's last group).
#[target_feature(enable = "avx2")]
fn intra_avx2<const W16: bool, const HALF: bool, const G: usize>(
    z: &[u8],
    above: &[u8],
    left_above: &[u8],
    out: &mut [u8],
    carry: __m128i,
) -> usize {
    let mut c = carry;
    let n = z.len() / 32 * 32;
    for (((zc, bc), cc), oc) in z[..n]
        .chunks_exact(32)
        .zip(above[..n].chunks_exact(32))
        .zip(left_above[..n].chunks_exact(32))
        .zip(out[..n].chunks_exact_mut(32))
    {
        let zv = load32(zc.try_into().expect("32"));
        let bv = load32(bc.try_into().expect("32"));
        let cv = load32(cc.try_into().expect("32"));
        let lo = step::<W16, HALF, G>(
            _mm256_castsi256_si128(zv),
            _mm256_castsi256_si128(bv),
            _mm256_castsi256_si128(cv),
            c,
        );
        let hi = step::<W16, HALF, G>(
            _mm256_extracti128_si256::<1>(zv),
            _mm256_extracti128_si256::<1>(bv),
            _mm256_extracti128_si256::<1>(cv),
            last_group::<G>(lo),
        );
        c = last_group::<G>(hi);
        let x = _mm256_set_m128i(hi, lo);
        let x = if W16 {
            _mm256_and_si256(x, _mm256_set1_epi16(0x3ff))
        } else {
            x
        };
        store32(oc.try_into().expect("32"), x);
    }
    n
}

/// The `ch` carries (1, 2 or 4 bytes in all) repeated across 16 bytes.
#[inline]
#[target_feature(enable = "sse2")]
fn carry_vec<T: Sample>(carry: &[T]) -> __m128i {
    let cb = as_bytes(carry);
    match *cb {
        [a] => _mm_set1_epi8(a as i8),
        [a, b] => _mm_set1_epi16(i16::from_le_bytes([a, b])),
        [a, b, c, d] => _mm_set1_epi32(i32::from_le_bytes([a, b, c, d])),
        _ => unreachable!("intra_fn only picks kernels for 1, 2 or 4 bytes"),
    }
}

type IntraFn = unsafe fn(&[u8], &[u8], &[u8], &mut [u8], __m128i) -> usize;

/// The kernel for (isa, sample width, predictor, channel group bytes).
fn intra_fn(isa: Isa, w16: bool, half: bool, g: usize) -> Option<IntraFn> {
    macro_rules! pick {
        ($f:ident) => {
            Some(match (w16, half, g) {
                (false, false, 1) => $f::<false, false, 1>,
                (false, false, 2) => $f::<false, false, 2>,
                (false, false, 4) => $f::<false, false, 4>,
                (false, true, 1) => $f::<false, true, 1>,
                (false, true, 2) => $f::<false, true, 2>,
                (false, true, 4) => $f::<false, true, 4>,
                (true, false, 2) => $f::<true, false, 2>,
                (true, false, 4) => $f::<true, false, 4>,
                (true, true, 2) => $f::<true, true, 2>,
                (true, true, 4) => $f::<true, true, 4>,
                _ => return None,
            })
        };
    }
    if isa == Isa::Avx2 {
        pick!(intra_avx2)
    } else {
        pick!(intra_sse2)
    }
}

pub(super) fn intra<T: Sample>(
    isa: Isa,
    pred: super::Pred,
    z: &[T],
    above: &[T],
    row: &mut [T],
    p0: usize,
    ch: usize,
) -> bool {
    let w16 = T::BITS > 8;
    let half = pred == super::Pred::Half;
    let g = ch * size_of::<T>();
    let Some(kernel) = intra_fn(isa, w16, half, g) else {
        return false;
    };
    let p1 = p0 + z.len();
    // The first sample of each channel predicts from above only: scalar.
    let i0 = p0.max(ch).min(p1);
    if i0 > p0 {
        super::scalar::intra(pred, &z[..i0 - p0], above, row, p0, ch);
    }
    let mut i = i0;
    // AVX2 does 32-byte chunks; SSE2 then the 16-byte chunk a 16-sample block leaves.
    let second = (isa == Isa::Avx2)
        .then(|| intra_fn(Isa::Sse2, w16, half, g))
        .flatten();
    for k in [Some(kernel), second].into_iter().flatten() {
        if i == p1 {
            break;
        }
        let done = {
            let (left, rest) = row.split_at_mut(i);
            let carry = carry_vec_checked(&left[i - ch..]);
            let zb = as_bytes(&z[i - p0..]);
            let bb = as_bytes(&above[i..p1]);
            let cb = as_bytes(&above[i - ch..p1 - ch]);
            let ob = as_bytes_mut(&mut rest[..p1 - i]);
            // SAFETY: the kernels were picked for `isa` (and SSE2); SSE2 is part of the
            // x86_64 baseline and `Isa::Avx2` is only handed out by `Isa::available` after
            // detecting AVX2.
            unsafe { k(zb, bb, cb, ob, carry) }
        } / size_of::<T>();
        i += done;
    }
    if i < p1 {
        super::scalar::intra(pred, &z[i - p0..], above, row, i, ch);
    }
    true
}

/// `(c + 2b + d + 2) >> 2` = avg(b, floor((c + d) / 2)) with rounding-up averages.
#[inline]
#[target_feature(enable = "sse2")]
fn up_pred<const W16: bool>(b: __m128i, c: __m128i, d: __m128i) -> __m128i {
    let odd = _mm_and_si128(_mm_xor_si128(c, d), _mm_set1_epi8(1));
    if W16 {
        let t = _mm_sub_epi16(_mm_avg_epu16(c, d), _mm_and_si128(odd, _mm_set1_epi16(1)));
        _mm_avg_epu16(b, t)
    } else {
        _mm_avg_epu8(b, _mm_sub_epi8(_mm_avg_epu8(c, d), odd))
    }
}

#[target_feature(enable = "sse2")]
fn up_sse2<const W16: bool>(z: &[u8], b: &[u8], c: &[u8], d: &[u8], out: &mut [u8]) -> usize {
    let n = z.len() / 16 * 16;
    for ((((zc, bc), cc), dc), oc) in z[..n]
        .chunks_exact(16)
        .zip(b[..n].chunks_exact(16))
        .zip(c[..n].chunks_exact(16))
        .zip(d[..n].chunks_exact(16))
        .zip(out[..n].chunks_exact_mut(16))
    {
        let p = up_pred::<W16>(
            load16(bc.try_into().expect("16")),
            load16(cc.try_into().expect("16")),
            load16(dc.try_into().expect("16")),
        );
        let mut x = add::<W16>(p, unzig::<W16>(load16(zc.try_into().expect("16"))));
        if W16 {
            x = _mm_and_si128(x, _mm_set1_epi16(0x3ff));
        }
        store16(oc.try_into().expect("16"), x);
    }
    n
}

#[target_feature(enable = "avx2")]
fn up_avx2<const W16: bool>(z: &[u8], b: &[u8], c: &[u8], d: &[u8], out: &mut [u8]) -> usize {
    let n = z.len() / 32 * 32;
    for ((((zc, bc), cc), dc), oc) in z[..n]
        .chunks_exact(32)
        .zip(b[..n].chunks_exact(32))
        .zip(c[..n].chunks_exact(32))
        .zip(d[..n].chunks_exact(32))
        .zip(out[..n].chunks_exact_mut(32))
    {
        let (zv, bv) = (
            load32(zc.try_into().expect("32")),
            load32(bc.try_into().expect("32")),
        );
        let (cv, dv) = (
            load32(cc.try_into().expect("32")),
            load32(dc.try_into().expect("32")),
        );
        let one = if W16 {
            _mm256_set1_epi16(1)
        } else {
            _mm256_set1_epi8(1)
        };
        let odd = _mm256_and_si256(_mm256_xor_si256(cv, dv), one);
        let x = if W16 {
            let r = _mm256_sub_epi16(
                _mm256_setzero_si256(),
                _mm256_and_si256(zv, _mm256_set1_epi16(1)),
            );
            let r = _mm256_xor_si256(_mm256_srli_epi16::<1>(zv), r);
            let t = _mm256_sub_epi16(_mm256_avg_epu16(cv, dv), odd);
            let p = _mm256_avg_epu16(bv, t);
            _mm256_and_si256(_mm256_add_epi16(p, r), _mm256_set1_epi16(0x3ff))
        } else {
            let half = _mm256_and_si256(_mm256_srli_epi16::<1>(zv), _mm256_set1_epi8(0x7f));
            let neg = _mm256_sub_epi8(
                _mm256_setzero_si256(),
                _mm256_and_si256(zv, _mm256_set1_epi8(1)),
            );
            let r = _mm256_xor_si256(half, neg);
            let p = _mm256_avg_epu8(bv, _mm256_sub_epi8(_mm256_avg_epu8(cv, dv), odd));
            _mm256_add_epi8(p, r)
        };
        store32(oc.try_into().expect("32"), x);
    }
    n
}

pub(super) fn up<T: Sample>(
    isa: Isa,
    z: &[T],
    above: &[T],
    row: &mut [T],
    p0: usize,
    ch: usize,
) -> bool {
    let p1 = p0 + z.len();
    // Samples with both neighbours above: [ch, len - ch); the others are scalar.
    let i0 = p0.max(ch).min(p1);
    let i1 = p1.min(above.len().saturating_sub(ch)).max(i0);
    if i0 > p0 {
        super::scalar::up(&z[..i0 - p0], above, row, p0, ch);
    }
    let done = if i1 > i0 {
        let zb = as_bytes(&z[i0 - p0..i1 - p0]);
        let bb = as_bytes(&above[i0..i1]);
        let cb = as_bytes(&above[i0 - ch..i1 - ch]);
        let db = as_bytes(&above[i0 + ch..i1 + ch]);
        let ob = as_bytes_mut(&mut row[i0..i1]);
        let w16 = T::BITS > 8;
        // SAFETY: SSE2 is part of the x86_64 baseline; `Isa::Avx2` is only handed out by
        // `Isa::available` after detecting AVX2.
        let wide = unsafe {
            match (isa, w16) {
                (Isa::Avx2, true) => up_avx2::<true>(zb, bb, cb, db, ob),
                (Isa::Avx2, false) => up_avx2::<false>(zb, bb, cb, db, ob),
                _ => 0,
            }
        };
        // SSE2 for what AVX2 left (or everything).
        // SAFETY: SSE2 is part of the x86_64 baseline.
        let narrow = unsafe {
            let (zb, bb, cb, db) = (&zb[wide..], &bb[wide..], &cb[wide..], &db[wide..]);
            let ob = &mut ob[wide..];
            if w16 {
                up_sse2::<true>(zb, bb, cb, db, ob)
            } else {
                up_sse2::<false>(zb, bb, cb, db, ob)
            }
        };
        (wide + narrow) / size_of::<T>()
    } else {
        0
    };
    let i = i0 + done;
    if i < p1 {
        super::scalar::up(&z[i - p0..], above, row, i, ch);
    }
    true
}

fn carry_vec_checked<T: Sample>(c: &[T]) -> __m128i {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { carry_vec(c) }
}

// ---------------------------------------------------------------------------------------
// Contexts: act = z[i-ch] + 2 z[i] + z[i+ch] in u16 lanes, context = thresholds below act.

/// Thresholds as signed 16-bit lanes: activity never exceeds 4 × 1023, so clamping to 4095
/// keeps every comparison's result while staying in range of the signed compare.
fn thr_lanes(thr: &[u16; 6]) -> [i16; 6] {
    thr.map(|t| t.min(4095) as i16)
}

/// 8 samples from `z` widened to u16 lanes.
#[inline]
#[target_feature(enable = "sse2")]
fn widen8<T: Sample>(z: &[T]) -> __m128i {
    let b = as_bytes(&z[..8]);
    if T::BITS > 8 {
        load16(b.try_into().expect("16"))
    } else {
        _mm_unpacklo_epi8(load8(b.try_into().expect("8")), _mm_setzero_si128())
    }
}

/// 16 samples from `z` widened to u16 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn widen16<T: Sample>(z: &[T]) -> __m256i {
    let b = as_bytes(&z[..16]);
    if T::BITS > 8 {
        load32(b.try_into().expect("32"))
    } else {
        _mm256_cvtepu8_epi16(load16(b.try_into().expect("16")))
    }
}

#[target_feature(enable = "sse2")]
fn contexts_sse2<T: Sample>(z: &[T], ch: usize, t: &[i16; 6], out: &mut [u16]) -> usize {
    let tv = t.map(|x| _mm_set1_epi16(x));
    let mut i = ch;
    while i + 8 + ch <= z.len() {
        let l = widen8(&z[i - ch..]);
        let m = widen8(&z[i..]);
        let r = widen8(&z[i + ch..]);
        let act = _mm_add_epi16(_mm_add_epi16(l, r), _mm_add_epi16(m, m));
        let mut c = _mm_setzero_si128();
        for tv in &tv {
            c = _mm_sub_epi16(c, _mm_cmpgt_epi16(act, *tv));
        }
        store16(
            as_bytes_mut(&mut out[i..i + 8]).try_into().expect("16"),
            _mm_slli_epi16::<{ MAX_LEN as i32 }>(c),
        );
        i += 8;
    }
    i
}

#[target_feature(enable = "avx2")]
fn contexts_avx2<T: Sample>(z: &[T], ch: usize, t: &[i16; 6], out: &mut [u16]) -> usize {
    let tv = t.map(|x| _mm256_set1_epi16(x));
    let mut i = ch;
    while i + 16 + ch <= z.len() {
        let l = widen16(&z[i - ch..]);
        let m = widen16(&z[i..]);
        let r = widen16(&z[i + ch..]);
        let act = _mm256_add_epi16(_mm256_add_epi16(l, r), _mm256_add_epi16(m, m));
        let mut c = _mm256_setzero_si256();
        for tv in &tv {
            c = _mm256_sub_epi16(c, _mm256_cmpgt_epi16(act, *tv));
        }
        store32(
            as_bytes_mut(&mut out[i..i + 16]).try_into().expect("32"),
            _mm256_slli_epi16::<{ MAX_LEN as i32 }>(c),
        );
        i += 16;
    }
    i
}

pub(super) fn contexts<T: Sample>(
    isa: Isa,
    z: &[T],
    ch: usize,
    thr: &[u16; 6],
    out: &mut [u16],
) -> bool {
    let n = z.len();
    let t = thr_lanes(thr);
    // Interior samples [ch, n - ch) have both neighbours; the kernels do a prefix of them.
    // SAFETY: SSE2 is part of the x86_64 baseline; `Isa::Avx2` is only handed out by
    // `Isa::available` after `is_x86_feature_detected!("avx2")`.
    let done = unsafe {
        if isa == Isa::Avx2 {
            contexts_avx2(z, ch, &t, out)
        } else {
            contexts_sse2(z, ch, &t, out)
        }
    };
    let edge = |i: usize| {
        let mid = z[i].get();
        let l = if i >= ch { z[i - ch].get() } else { mid };
        let r = if i + ch < n { z[i + ch].get() } else { mid };
        (super::scalar::ctx_of(l + 2 * mid + r, thr) as u16) << MAX_LEN
    };
    for k in (0..ch.min(n)).chain(done.max(ch)..n) {
        out[k] = edge(k);
    }
    true
}

// ---------------------------------------------------------------------------------------
// The Huffman loops of bits.rs, compiled for x86-64-v3: BMI2 shifts by any register
// (no moves through CL) and LZCNT for the bit count consumed.

pub(super) fn read_row_v3<T: Sample>(
    r: &mut [crate::bits::BitReader; crate::format::STREAMS],
    tabs: &crate::bits::Tables,
    ctx: &[u16],
    out: &mut [T],
) {
    #[target_feature(enable = "bmi1,bmi2,lzcnt")]
    fn v3<T: Sample>(
        r: &mut [crate::bits::BitReader; crate::format::STREAMS],
        tabs: &crate::bits::Tables,
        ctx: &[u16],
        out: &mut [T],
    ) {
        crate::bits::read_row(r, tabs, ctx, out)
    }
    // SAFETY: called only with `Isa::Avx2`, which `Isa::available` hands out after detecting
    // AVX2, BMI1, BMI2 and LZCNT.
    unsafe { v3(r, tabs, ctx, out) }
}

pub(super) fn write_row_v3<T: Sample>(
    w: &mut [crate::bits::BitWriter; crate::format::STREAMS],
    codes: &[u32; 1 << 16],
    zbits: u32,
    z: &[T],
    ctx: &[u16],
) {
    #[target_feature(enable = "avx2,bmi1,bmi2,lzcnt")]
    fn v3<T: Sample>(
        w: &mut [crate::bits::BitWriter; crate::format::STREAMS],
        codes: &[u32; 1 << 16],
        zbits: u32,
        z: &[T],
        ctx: &[u16],
    ) {
        crate::bits::write_row(w, codes, zbits, z, ctx)
    }
    // SAFETY: called only with `Isa::Avx2`, which `Isa::available` hands out after detecting
    // AVX2, BMI1, BMI2 and LZCNT.
    unsafe { v3(w, codes, zbits, z, ctx) }
}
