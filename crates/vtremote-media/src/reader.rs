//! A byte cursor for decoder configuration records: every read names the field, and a short
//! buffer is an error, never a panic or an out-of-bounds read.

use crate::error::{MediaError, Result};

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(MediaError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A NAL unit stored as `u16 length, bytes`; an empty one is useless to every consumer
    /// (VideoToolbox rejects it), so it is reported as truncated.
    pub(crate) fn nal_u16(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let offset = self.pos;
        let len = usize::from(self.u16(what)?);
        if len == 0 {
            return Err(MediaError::Truncated {
                what,
                offset,
                needed: 1,
                available: 0,
            });
        }
        self.take(len, what)
    }
}

/// Strips an ISO BMFF box header (`u32 size, fourcc`) when `data` starts with one whose
/// fourcc is `fourcc` and whose size fits; otherwise returns `data` unchanged. Some
/// clients send the whole `avcC`/`hvcC` box instead of its body (spec §10).
pub(crate) fn strip_box_header<'a>(data: &'a [u8], fourcc: &[u8; 4]) -> &'a [u8] {
    if data.len() >= 8 && &data[4..8] == fourcc {
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if (8..=data.len()).contains(&size) {
            return &data[8..size];
        }
        // A size of 0 means "to the end of the file" in ISO BMFF.
        if size == 0 {
            return &data[8..];
        }
    }
    data
}

/// Appends `nal` as `u16 length, bytes`.
pub(crate) fn push_nal_u16(out: &mut Vec<u8>, nal: &[u8]) -> Result<()> {
    let len = u16::try_from(nal.len()).map_err(|_| MediaError::NalTooLong {
        length: nal.len(),
        nal_length_size: 2,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}
