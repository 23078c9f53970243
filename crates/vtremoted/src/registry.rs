//! Every running session, so that a stopping daemon reaches them all at once: each is told
//! to stop (its socket shut for reading, which wakes whatever read it is blocked in), the
//! server waits for them up to a deadline, and no session thread is left unaccounted for.

use std::collections::HashMap;
use std::net::Shutdown;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{info, warn};

/// How a session's connection is shut from outside (a clone of its socket).
pub type Stopper = Box<dyn Fn(Shutdown) + Send>;

struct Entry {
    stop: Stopper,
    thread: JoinHandle<()>,
}

#[derive(Default)]
pub struct Registry {
    sessions: HashMap<u64, Entry>,
}

/// How long sessions get to send their ERROR and close after their reads were shut, before
/// their sockets are shut both ways (which also ends a write blocked on a client that
/// does not read).
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// The most a stop takes: after this, sessions still running (a codec call that does not
/// return) are reported and left to the process exit.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

impl Registry {
    pub fn insert(&mut self, id: u64, stop: Stopper, thread: JoinHandle<()>) {
        self.sessions.insert(id, Entry { stop, thread });
    }

    /// Joins the sessions that have ended; returns how many are still running.
    pub fn reap(&mut self) -> usize {
        let done: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.thread.is_finished())
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            if let Some(e) = self.sessions.remove(&id) {
                let _ = e.thread.join();
            }
        }
        self.sessions.len()
    }

    /// Stops every session (the caller has set the shutdown flag they check) and waits
    /// for them: reads shut at once, both directions after `grace`, give up after
    /// `deadline`. Returns the ids of sessions still running then.
    pub fn stop_all(&mut self, grace: Duration, deadline: Duration) -> Vec<u64> {
        let start = Instant::now();
        if !self.sessions.is_empty() {
            info!("stopping {} session(s)", self.sessions.len());
        }
        for e in self.sessions.values() {
            (e.stop)(Shutdown::Read);
        }
        let mut forced = false;
        while self.reap() > 0 {
            let waited = start.elapsed();
            if waited >= deadline {
                let mut left: Vec<u64> = self.sessions.keys().copied().collect();
                left.sort_unstable();
                warn!("sessions {left:?} did not stop within {deadline:?}; exiting anyway");
                return left;
            }
            if !forced && waited >= grace {
                forced = true;
                for e in self.sessions.values() {
                    (e.stop)(Shutdown::Both);
                }
            }
            std::thread::sleep(POLL);
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A "session" blocked reading its socket until the registry shuts it.
    fn blocked_reader(reg: &mut Registry, id: u64) -> UnixStream {
        let (client, server) = UnixStream::pair().unwrap();
        let handle = server.try_clone().unwrap();
        let thread = std::thread::spawn(move || {
            let mut server = server;
            let _ = server.read(&mut [0u8; 16]);
        });
        reg.insert(id, Box::new(move |how| drop(handle.shutdown(how))), thread);
        client
    }

    #[test]
    fn stop_all_wakes_sessions_blocked_in_a_read_and_joins_them() {
        let mut reg = Registry::default();
        let _a = blocked_reader(&mut reg, 1);
        let _b = blocked_reader(&mut reg, 2);
        assert_eq!(reg.reap(), 2);
        let left = reg.stop_all(Duration::from_secs(60), Duration::from_secs(60));
        assert!(left.is_empty());
        assert_eq!(reg.reap(), 0);
    }

    #[test]
    fn a_session_that_ignores_the_stop_is_reported_after_the_deadline() {
        let mut reg = Registry::default();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let stubborn = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        reg.insert(7, Box::new(|_| {}), stubborn);
        let left = reg.stop_all(Duration::ZERO, Duration::from_millis(50));
        assert_eq!(left, [7]);
        drop(tx);
    }

    #[test]
    fn finished_sessions_are_reaped() {
        let mut reg = Registry::default();
        let done = std::thread::spawn(|| {});
        reg.insert(3, Box::new(|_| {}), done);
        while reg.reap() > 0 {
            std::thread::sleep(POLL);
        }
    }
}
