//! A bit reader over RBSP data (emulation prevention removed) with the Exp-Golomb codes of
//! ITU-T H.264/H.265 §9.1. Used only for parameter sets, which are small.

use crate::error::{MediaError, Result};

/// Removes emulation-prevention bytes: every `00 00 03` becomes `00 00` (H.264 §7.4.1,
/// H.265 §7.4.2). The result is never longer than the input.
pub fn nal_to_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// MSB-first bit reader; every read names the syntax element so a failure says where the
/// parameter set ended or went wrong.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    codec: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8], codec: &'static str) -> Self {
        BitReader {
            data,
            pos: 0,
            codec,
        }
    }

    fn bit_len(&self) -> usize {
        self.data.len() * 8
    }

    fn truncated(&self, field: &'static str) -> MediaError {
        MediaError::SpsTruncated {
            codec: self.codec,
            field,
            bit_offset: self.pos,
            bit_len: self.bit_len(),
        }
    }

    pub(crate) fn out_of_range(&self, field: &'static str, value: u64, max: u64) -> MediaError {
        MediaError::SpsValueOutOfRange {
            codec: self.codec,
            field,
            value,
            max,
        }
    }

    pub(crate) fn bit(&mut self, field: &'static str) -> Result<bool> {
        if self.pos >= self.bit_len() {
            return Err(self.truncated(field));
        }
        let byte = self.data[self.pos / 8];
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads `n` ≤ 64 bits as an unsigned number.
    pub(crate) fn bits(&mut self, n: u32, field: &'static str) -> Result<u64> {
        debug_assert!(n <= 64);
        if self.bit_len() - self.pos < n as usize {
            return Err(self.truncated(field));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit(field)?);
        }
        Ok(v)
    }

    pub(crate) fn u8_bits(&mut self, n: u32, field: &'static str) -> Result<u8> {
        debug_assert!(n <= 8);
        // n ≤ 8, so the value fits.
        Ok(self.bits(n, field)? as u8)
    }

    pub(crate) fn skip(&mut self, n: usize, field: &'static str) -> Result<()> {
        if self.bit_len() - self.pos < n {
            return Err(self.truncated(field));
        }
        self.pos += n;
        Ok(())
    }

    /// ue(v). More than 31 leading zeros cannot be a legal value of any element we read
    /// (all fit in 32 bits), so it is reported as out of range instead of overflowing.
    pub(crate) fn ue(&mut self, field: &'static str) -> Result<u32> {
        let mut zeros = 0u32;
        while !self.bit(field)? {
            zeros += 1;
            if zeros > 31 {
                return Err(self.out_of_range(field, 1 << 32, u64::from(u32::MAX - 1)));
            }
        }
        let rest = self.bits(zeros, field)?;
        // zeros ≤ 31, so (1 << zeros) - 1 + rest ≤ 2^32 − 2.
        Ok(((1u64 << zeros) - 1 + rest) as u32)
    }

    /// ue(v) that must not exceed `max` (the standard's range for that element).
    pub(crate) fn ue_max(&mut self, field: &'static str, max: u32) -> Result<u32> {
        let v = self.ue(field)?;
        if v > max {
            return Err(self.out_of_range(field, u64::from(v), u64::from(max)));
        }
        Ok(v)
    }

    /// se(v): 0, 1, −1, 2, −2, …
    pub(crate) fn se(&mut self, field: &'static str) -> Result<i64> {
        let k = i64::from(self.ue(field)?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(
            nal_to_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            [0, 0, 1, 0, 0, 0, 3]
        );
        assert_eq!(nal_to_rbsp(&[0, 3, 0, 0, 3]), [0, 3, 0, 0]);
    }

    #[test]
    fn exp_golomb_codes() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0,1,2,3 then se(4) = −2
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.ue("a").unwrap(), 0);
        assert_eq!(r.ue("b").unwrap(), 1);
        assert_eq!(r.ue("c").unwrap(), 2);
        assert_eq!(r.ue("d").unwrap(), 3);
        assert_eq!(r.se("e").unwrap(), -2);
    }

    #[test]
    fn reading_past_the_end_names_the_field() {
        let mut r = BitReader::new(&[0xFF], "H.264");
        r.skip(6, "x").unwrap();
        assert_eq!(
            r.bits(3, "level_idc"),
            Err(MediaError::SpsTruncated {
                codec: "H.264",
                field: "level_idc",
                bit_offset: 6,
                bit_len: 8
            })
        );
    }

    #[test]
    fn overlong_exp_golomb_is_out_of_range() {
        let data = [0u8; 8];
        assert!(matches!(
            BitReader::new(&data, "t").ue("f"),
            Err(MediaError::SpsValueOutOfRange { field: "f", .. })
        ));
    }
}
