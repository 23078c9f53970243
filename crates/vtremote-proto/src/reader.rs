//! A bounds-checked cursor over a payload; every read names the field it is reading so a
//! truncation error says exactly where the message ended.

use crate::error::ProtoError;
use crate::header::MessageType;

pub(crate) struct Reader<'a> {
    ty: MessageType,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(ty: MessageType, buf: &'a [u8]) -> Self {
        Reader { ty, buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProtoError> {
        if self.remaining() < n {
            return Err(ProtoError::Truncated {
                ty: self.ty,
                field,
                need: n,
                have: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, ProtoError> {
        Ok(self.take(1, field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, ProtoError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, ProtoError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, ProtoError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub fn str16(&mut self, field: &'static str) -> Result<String, ProtoError> {
        let n = self.u16(field)? as usize;
        let b = self.take(n, field)?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtoError::InvalidUtf8 { ty: self.ty, field })
    }

    /// A str16 whose invalid UTF-8 is tolerated (CONFIGURE options: the original server drops
    /// the pair rather than the session, spec §3.3).
    pub fn str16_lossy(&mut self, field: &'static str) -> Result<Option<String>, ProtoError> {
        let n = self.u16(field)? as usize;
        let b = self.take(n, field)?;
        Ok(String::from_utf8(b.to_vec()).ok())
    }

    pub fn bytes32(&mut self, field: &'static str) -> Result<&'a [u8], ProtoError> {
        let n = self.u32(field)? as usize;
        self.take(n, field)
    }
}
