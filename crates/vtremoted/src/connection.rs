//! What a session needs from its byte stream, so the same session code serves TCP clients
//! and runs in tests over `UnixStream::pair()` without ports (and, later, other streams).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A duplex byte stream that can be cloned into a reader and a writer half, shut down from
/// another thread (how the daemon stops a session blocked in a read), and given deadlines.
pub trait Connection: Read + Write + Send + Sized + 'static {
    /// Another handle on the same stream (the reader and writer threads each own one).
    fn try_clone(&self) -> io::Result<Self>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// The peer's address for logs ("?" when unknown).
    fn peer(&self) -> String;
    /// Bounds the kernel's receive buffer (see `session::limit_receive_buffer`); streams
    /// without one ignore it.
    fn set_receive_buffer(&self, _bytes: usize) -> io::Result<()> {
        Ok(())
    }
    /// Sends small messages at once (PONG, DONE, ERROR); streams without Nagle ignore it.
    fn set_nodelay(&self) -> io::Result<()> {
        Ok(())
    }
}

impl Connection for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn peer(&self) -> String {
        self.peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into())
    }
    fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        socket2::SockRef::from(self).set_recv_buffer_size(bytes)
    }
    fn set_nodelay(&self) -> io::Result<()> {
        TcpStream::set_nodelay(self, true)
    }
}

#[cfg(unix)]
impl Connection for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, how)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
    fn peer(&self) -> String {
        "unix".into()
    }
}
