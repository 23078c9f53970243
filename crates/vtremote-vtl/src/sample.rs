//! The two sample domains VTL codes in: bytes (NV12, and P010 with stray low bits) and
//! 10-bit values (P010 shifted down by 6). Everything that depends on the sample width is
//! here, so the encoder and decoder are written once, generic over [`Sample`].

/// A sample of the coding domain. Arithmetic is modulo `2^BITS`: predictions and residuals
/// wrap, which keeps every residual inside a fixed alphabet and makes the inverse exact.
pub(crate) trait Sample:
    Copy + Default + Eq + Send + Sync + std::fmt::Debug + 'static
{
    /// Significant bits (8 or 10).
    const BITS: u32;
    /// Huffman alphabet size (see [`Sample::symbol`]).
    const ALPHABET: usize;
    /// Raw bits that follow some symbols (0 for bytes, 4 for 10-bit tails).
    const MAX_EXTRA: u32;
    /// Symbols one 64-bit refill of a stream can decode: 57 / (MAX_LEN + MAX_EXTRA).
    const SYMS_PER_REFILL: usize;

    fn get(self) -> u32;
    /// Keeps the low `BITS` bits of `v`.
    fn wrap(v: u32) -> Self;

    #[inline(always)]
    fn wadd(self, o: Self) -> Self {
        Self::wrap(self.get().wrapping_add(o.get()))
    }

    #[inline(always)]
    fn wsub(self, o: Self) -> Self {
        Self::wrap(self.get().wrapping_sub(o.get()))
    }

    /// Residual (mod 2^BITS) → zigzag index: 0, -1, 1, -2, 2 ... → 0, 1, 2, 3, 4 ...
    #[inline(always)]
    fn zigzag(self) -> Self {
        let shift = 32 - Self::BITS;
        let s = ((self.get() << shift) as i32) >> shift;
        Self::wrap(((s << 1) ^ (s >> 31)) as u32)
    }

    #[inline(always)]
    fn unzigzag(self) -> Self {
        let z = self.get();
        Self::wrap((z >> 1) ^ 0u32.wrapping_sub(z & 1))
    }

    /// Zigzag value → (symbol, extra bits value, extra bit count).
    fn symbol(z: u32) -> (u32, u32, u32);
}

impl Sample for u8 {
    const BITS: u32 = 8;
    const ALPHABET: usize = 256;
    const MAX_EXTRA: u32 = 0;
    const SYMS_PER_REFILL: usize = 5;

    #[inline(always)]
    fn get(self) -> u32 {
        self as u32
    }

    #[inline(always)]
    fn wrap(v: u32) -> Self {
        v as u8
    }

    // Native byte arithmetic (the defaults go through u32): the encoder's residual loops
    // then vectorise 16 samples to an SSE register instead of 4.
    #[inline(always)]
    fn wadd(self, o: Self) -> Self {
        self.wrapping_add(o)
    }

    #[inline(always)]
    fn wsub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }

    #[inline(always)]
    fn zigzag(self) -> Self {
        let s = self as i8;
        ((s << 1) ^ (s >> 7)) as u8
    }

    #[inline(always)]
    fn symbol(z: u32) -> (u32, u32, u32) {
        (z, 0, 0)
    }
}

/// 10-bit zigzag values below this are their own symbol; above, a symbol stands for 16
/// values and 4 raw bits follow. Keeps the alphabet under 256 so one 2048-entry decode table
/// per context serves both domains, while small residuals (the common case) cost no raw bits.
pub(crate) const TEN_BIT_DIRECT: u32 = 192;

impl Sample for u16 {
    const BITS: u32 = 10;
    const ALPHABET: usize = (TEN_BIT_DIRECT + (1024 - TEN_BIT_DIRECT) / 16) as usize; // 244
    const MAX_EXTRA: u32 = 4;
    const SYMS_PER_REFILL: usize = 4;

    #[inline(always)]
    fn get(self) -> u32 {
        self as u32
    }

    #[inline(always)]
    fn wrap(v: u32) -> Self {
        (v & 0x3ff) as u16
    }

    #[inline(always)]
    fn wadd(self, o: Self) -> Self {
        self.wrapping_add(o) & 0x3ff
    }

    #[inline(always)]
    fn wsub(self, o: Self) -> Self {
        self.wrapping_sub(o) & 0x3ff
    }

    #[inline(always)]
    fn zigzag(self) -> Self {
        let s = ((self << 6) as i16) >> 6;
        ((s << 1) ^ (s >> 15)) as u16 & 0x3ff
    }

    #[inline(always)]
    fn symbol(z: u32) -> (u32, u32, u32) {
        if z < TEN_BIT_DIRECT {
            (z, 0, 0)
        } else {
            (TEN_BIT_DIRECT + ((z - TEN_BIT_DIRECT) >> 4), z & 15, 4)
        }
    }
}

/// First zigzag value a 10-bit symbol stands for (its extra bits are added to it).
#[inline(always)]
pub(crate) const fn ten_bit_base(sym: u32) -> u32 {
    if sym < TEN_BIT_DIRECT {
        sym
    } else {
        TEN_BIT_DIRECT + ((sym - TEN_BIT_DIRECT) << 4)
    }
}

/// [`ten_bit_base`] for every byte: the decoder looks it up (a load per symbol is cheaper
/// than the compare-and-shift, which the compiler otherwise vectorises across streams and so
/// lengthens every stream's dependency chain).
pub(crate) static TEN_BIT_BASE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut s = 0;
    while s < 256 {
        t[s] = ten_bit_base(s as u32) as u16;
        s += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_a_bijection_in_both_domains() {
        let mut seen = [false; 256];
        for v in 0..=255u8 {
            let z = v.zigzag();
            assert!(!seen[z as usize]);
            seen[z as usize] = true;
            assert_eq!(z.unzigzag(), v);
        }
        assert_eq!(0u8.zigzag(), 0);
        assert_eq!(255u8.zigzag(), 1);
        assert_eq!(1u8.zigzag(), 2);
        let mut seen = vec![false; 1024];
        for v in 0..1024u16 {
            let z = v.zigzag();
            assert!(z < 1024 && !seen[z as usize]);
            seen[z as usize] = true;
            assert_eq!(z.unzigzag(), v);
        }
        assert_eq!(1023u16.zigzag(), 1);
    }

    #[test]
    fn ten_bit_symbols_cover_every_value_once() {
        for z in 0..1024u32 {
            let (s, x, n) = u16::symbol(z);
            assert!((s as usize) < u16::ALPHABET);
            assert!(x < (1 << n) || (n == 0 && x == 0));
            assert_eq!(ten_bit_base(s) + x, z);
        }
        assert_eq!(u16::symbol(1023).0 as usize, u16::ALPHABET - 1);
    }
}
