//! Row kernels of the decoder's (and encoder's) inner loops, with a portable scalar version
//! and x86_64 SSE2/AVX2 versions picked at run time. All `unsafe` of the crate lives below
//! this module.
//!
//! The decoder's other hot loop, the Huffman lookups (bits.rs), is scalar by nature; these
//! kernels are what is left around it: contexts from the row above, and the prefix sums
//! that invert the gradient predictor (the reason VTL uses an unclamped gradient: its
//! inverse is a prefix sum along the row, which vectorises, while MED's is a serial chain).

pub(crate) mod scalar;

pub(crate) use scalar::Pred;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::bits::{self, BitReader, BitWriter, Tables};
use crate::format::STREAMS;
use crate::sample::Sample;

/// Which kernels run. Every choice produces identical output; the choice is only speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// x86_64 SSE2 (part of every x86_64 CPU).
    Sse2,
    /// x86_64 AVX2 with BMI1/BMI2/LZCNT (x86-64-v3).
    Avx2,
}

impl Isa {
    /// The fastest kernels this CPU runs.
    pub fn detect() -> Isa {
        *Isa::available().last().expect("scalar is always available")
    }

    /// Every kernel set this CPU runs, slowest first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("sse2") {
                v.push(Isa::Sse2);
            }
            // The "AVX2" level is x86-64-v3's integer part: the Huffman loops use BMI2's
            // shifts by any register and LZCNT.
            if std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
                && std::is_x86_feature_detected!("lzcnt")
            {
                v.push(Isa::Avx2);
            }
        }
        v
    }
}

/// Decodes one row's symbols (bits.rs), compiled for the CPU level `isa`.
#[inline]
pub(crate) fn read_row<T: Sample>(
    isa: Isa,
    r: &mut [BitReader; STREAMS],
    tabs: &Tables,
    ctx: &[u16],
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        return x86::read_row_v3(r, tabs, ctx, out);
    }
    let _ = isa;
    bits::read_row(r, tabs, ctx, out)
}

/// Writes one row's symbols (bits.rs), compiled for the CPU level `isa`.
#[inline]
pub(crate) fn write_row<T: Sample>(
    isa: Isa,
    w: &mut [BitWriter; STREAMS],
    codes: &[u32; 1 << 16],
    zbits: u32,
    z: &[T],
    ctx: &[u16],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        return x86::write_row_v3(w, codes, zbits, z, ctx);
    }
    let _ = isa;
    bits::write_row(w, codes, zbits, z, ctx)
}

/// Per-domain kernel dispatch. `isa` must come from [`Isa::available`].
pub(crate) trait Kernels: Sample {
    /// See [`scalar::intra`].
    fn intra(
        isa: Isa,
        pred: Pred,
        z: &[Self],
        above: &[Self],
        row: &mut [Self],
        p0: usize,
        ch: usize,
    );
    fn contexts(isa: Isa, z: &[Self], ch: usize, thr: &[u16; 6], out: &mut [u16]);
    /// See [`scalar::up`]; `above` is the whole row above.
    fn up(isa: Isa, z: &[Self], above: &[Self], row: &mut [Self], p0: usize, ch: usize) {
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Scalar && x86::up(isa, z, above, row, p0, ch) {
            return;
        }
        let _ = isa;
        scalar::up(z, above, row, p0, ch)
    }
    fn inter(_isa: Isa, z: &[Self], out: &mut [Self]) {
        // Plain element-wise: the compiler's auto-vectorisation already does this well.
        scalar::inter(z, out)
    }
}

impl Kernels for u8 {
    #[inline]
    fn intra(isa: Isa, pred: Pred, z: &[u8], above: &[u8], row: &mut [u8], p0: usize, ch: usize) {
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Scalar && x86::intra(isa, pred, z, above, row, p0, ch) {
            return;
        }
        let _ = isa;
        scalar::intra(pred, z, above, row, p0, ch)
    }

    #[inline]
    fn contexts(isa: Isa, z: &[u8], ch: usize, thr: &[u16; 6], out: &mut [u16]) {
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Scalar && x86::contexts(isa, z, ch, thr, out) {
            return;
        }
        let _ = isa;
        scalar::contexts(z, ch, thr, out)
    }
}

impl Kernels for u16 {
    #[inline]
    fn intra(
        isa: Isa,
        pred: Pred,
        z: &[u16],
        above: &[u16],
        row: &mut [u16],
        p0: usize,
        ch: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Scalar && x86::intra(isa, pred, z, above, row, p0, ch) {
            return;
        }
        let _ = isa;
        scalar::intra(pred, z, above, row, p0, ch)
    }

    #[inline]
    fn contexts(isa: Isa, z: &[u16], ch: usize, thr: &[u16; 6], out: &mut [u16]) {
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Scalar && x86::contexts(isa, z, ch, thr, out) {
            return;
        }
        let _ = isa;
        scalar::contexts(z, ch, thr, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_intra<T: Kernels>(z: &[T], above: &[T], left: &[T], p0: usize, ch: usize) {
        for pred in [Pred::Grad, Pred::Half] {
            let mut want = left.to_vec();
            want.resize(p0 + z.len(), T::default());
            let row0 = want.clone();
            scalar::intra(pred, z, above, &mut want, p0, ch);
            for isa in Isa::available() {
                let mut got = row0.clone();
                T::intra(isa, pred, z, above, &mut got, p0, ch);
                assert_eq!(
                    got,
                    want,
                    "{isa:?} {pred:?} ch {ch} p0 {p0} len {}",
                    z.len()
                );
            }
        }
        let mut want = left.to_vec();
        want.resize(p0 + z.len(), T::default());
        let row0 = want.clone();
        scalar::up(z, above, &mut want, p0, ch);
        for isa in Isa::available() {
            let mut got = row0.clone();
            T::up(isa, z, above, &mut got, p0, ch);
            assert_eq!(got, want, "{isa:?} up ch {ch} p0 {p0} len {}", z.len());
        }
    }

    #[test]
    fn up_predictor_is_the_rounded_weighted_mean() {
        let above: Vec<u16> = vec![1023, 0, 1023, 1, 2, 1000];
        let mut row = vec![0u16; 6];
        scalar::up(&[0; 6], &above, &mut row, 0, 1);
        assert_eq!(row, vec![767, 512, 512, 257, 251, 751]);
    }

    #[test]
    fn half_vertical_term_is_the_floor_of_half_the_difference() {
        for b in 0..1024u16 {
            for c in 0..1024u16 {
                let want = (b as i32 - c as i32).div_euclid(2).rem_euclid(1024) as u16;
                assert_eq!(scalar::vterm(Pred::Half, b, c), want);
                if b < 256 && c < 256 {
                    let want8 = (b as i32 - c as i32).div_euclid(2).rem_euclid(256) as u8;
                    assert_eq!(scalar::vterm(Pred::Half, b as u8, c as u8), want8);
                }
            }
        }
    }

    fn check_ctx<T: Kernels>(z: &[T], ch: usize, thr: [u16; 6]) {
        let mut want = vec![0u16; z.len()];
        scalar::contexts(z, ch, &thr, &mut want);
        for isa in Isa::available() {
            let mut got = vec![9u16; z.len()];
            T::contexts(isa, z, ch, &thr, &mut got);
            assert_eq!(got, want, "{isa:?} ch {ch} len {} thr {thr:?}", z.len());
        }
    }

    fn sorted(mut t: [u16; 6]) -> [u16; 6] {
        t.sort();
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn intra_u8_kernels_match_scalar(
            z in prop::collection::vec(any::<u8>(), 0..200),
            row in prop::collection::vec(any::<u8>(), 300),
            p0 in 0usize..80, ch in prop::sample::select(vec![1usize, 2, 4]),
        ) {
            let p0 = p0 / ch * ch;
            let n = z.len() / ch * ch;
            let above = &row[..p0 + n];
            check_intra(&z[..n], above, &row[100..100 + p0], p0, ch);
        }

        #[test]
        fn intra_u16_kernels_match_scalar(
            z in prop::collection::vec(0u16..1024, 0..200),
            row in prop::collection::vec(0u16..1024, 300),
            p0 in 0usize..80, ch in prop::sample::select(vec![1usize, 2]),
        ) {
            let p0 = p0 / ch * ch;
            let n = z.len() / ch * ch;
            let above = &row[..p0 + n];
            check_intra(&z[..n], above, &row[100..100 + p0], p0, ch);
        }

        #[test]
        fn context_kernels_match_scalar(
            z8 in prop::collection::vec(any::<u8>(), 0..200),
            z10 in prop::collection::vec(0u16..1024, 0..200),
            thr in any::<[u16; 6]>(), small in any::<[u8; 6]>(),
            ch in prop::sample::select(vec![1usize, 2, 4]),
        ) {
            // Thresholds both over the whole u16 range and in the range that matters.
            for t in [sorted(thr), sorted(small.map(|s| s as u16)), sorted(small.map(|s| s as u16 * 4))] {
                let n8 = z8.len() / ch * ch;
                check_ctx(&z8[..n8], ch, t);
                if ch <= 2 {
                    let n10 = z10.len() / ch * ch;
                    check_ctx(&z10[..n10], ch, t);
                }
            }
        }
    }
}
