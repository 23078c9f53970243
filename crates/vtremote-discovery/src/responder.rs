//! The mdns-sd responder, shut down when dropped.

use std::ops::Deref;

use mdns_sd::ServiceDaemon;

use crate::error::DiscoveryError;

/// mdns-sd's thread keeps a handle of its own to the command channel, so dropping ours
/// alone would leave the thread and its UDP 5353 sockets running: every early return of a
/// browse or an advertisement would leak one.
pub(crate) struct Responder(Option<ServiceDaemon>);

impl Responder {
    pub fn start() -> Result<Self, DiscoveryError> {
        ServiceDaemon::new()
            .map(|d| Responder(Some(d)))
            .map_err(|e| DiscoveryError::Start(e.to_string()))
    }

    /// The responder, now the caller's to shut down.
    pub fn keep(mut self) -> ServiceDaemon {
        self.0.take().expect("taken only here")
    }
}

impl Deref for Responder {
    type Target = ServiceDaemon;
    fn deref(&self) -> &ServiceDaemon {
        self.0.as_ref().expect("present until kept")
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            // Not waited for: the thread ends on its own once told.
            let _ = d.shutdown();
        }
    }
}
