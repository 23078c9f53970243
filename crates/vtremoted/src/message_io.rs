//! Reading whole messages from a connection with deadlines.
//!
//! Every header and payload read is bounded: the idle timeout covers waiting for the next
//! message, and the payload must then arrive within the same budget, so a client that
//! trickles bytes (slowloris, spec §12.1) is dropped instead of holding a thread forever.

use std::io;
use std::time::{Duration, Instant};

use vtremote_proto::{Header, Limits, Message, ProtoError, HEADER_LEN};

use crate::connection::Connection;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("client idle for more than {0:?}")]
    Idle(Duration),
    #[error("client closed the connection")]
    Eof,
    #[error("{0}")]
    Protocol(#[from] ProtoError),
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// Fills `buf` completely before `deadline`. `Ok(false)` = clean EOF before the first byte.
fn read_full<C: Connection>(
    stream: &mut C,
    buf: &mut [u8],
    deadline: Instant,
    idle: Duration,
) -> Result<bool, WireError> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WireError::Idle(idle));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(WireError::Eof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(WireError::Idle(idle))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Err(WireError::Eof)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Reads one message. `Ok(None)` on a clean close between messages.
/// Returns the message and its size on the wire.
pub fn read_message<C: Connection>(
    stream: &mut C,
    limits: &Limits,
    idle: Duration,
) -> Result<Option<(Message, usize)>, WireError> {
    let deadline = Instant::now() + idle;
    let mut h = [0u8; HEADER_LEN];
    if !read_full(stream, &mut h, deadline, idle)? {
        return Ok(None);
    }
    let header = Header::decode(&h)?;
    limits.check(&header)?;
    let mut payload = vec![0u8; header.len as usize];
    // The payload gets a fresh budget: a 4K frame on a slow link may take a while.
    if !payload.is_empty() && !read_full(stream, &mut payload, Instant::now() + idle, idle)? {
        return Err(WireError::Eof);
    }
    let size = HEADER_LEN + payload.len();
    Ok(Some((Message::decode(header.ty, payload)?, size)))
}
