//! The helper's mDNS advertisement: what it serves, said before anyone connects. A LAN that
//! drops multicast must not stop a helper from serving, so failing to advertise is a
//! warning, never an error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tracing::warn;
use vtremote_discovery::{advertise, Advert, Advertisement, Auth, Txt, PROTOCOL_VERSION};
use vtremote_tls::Fingerprint;

use crate::backend::CodecSupport;

/// Held by the serving thread and by the signal handler: whichever ends first withdraws.
#[derive(Clone, Default)]
pub struct Announcement(Arc<Mutex<Option<Advertisement>>>);

impl Announcement {
    /// Starts advertising `listen` (the bound address) with the codecs the backend serves.
    pub fn start(
        listen: SocketAddr,
        capabilities: &[CodecSupport],
        fingerprint: Option<Fingerprint>,
        token_required: bool,
    ) -> Announcement {
        let txt = txt(capabilities, fingerprint, token_required);
        match advertise(&Advert { listen, txt }) {
            Ok(a) => Announcement(Arc::new(Mutex::new(Some(a)))),
            Err(e) => {
                warn!("{e}; clients can still name this helper (--no-mdns silences this)");
                Announcement::default()
            }
        }
    }

    /// Sends the goodbye packets (bounded wait); later calls do nothing.
    pub fn withdraw(&self) {
        let taken = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(a) = taken {
            a.withdraw();
        }
    }
}

/// HELLO_ACK's codec names, without the `+` extensions: those are for the session to
/// negotiate, not for choosing a helper.
fn txt(capabilities: &[CodecSupport], fingerprint: Option<Fingerprint>, token: bool) -> Txt {
    Txt {
        protocol: Some(PROTOCOL_VERSION),
        codecs: crate::session::advertised_codecs(capabilities)
            .into_iter()
            .filter(|c| !c.starts_with('+'))
            .collect(),
        fingerprint,
        auth: if token { Auth::Token } else { Auth::None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::Codec;

    #[test]
    fn the_record_lists_served_codecs_only() {
        let caps = [
            CodecSupport {
                codec: Codec::H264,
                encode: true,
                decode: true,
                pix_fmts: vec![],
                encoder_name: None,
                decoder_name: None,
                hardware: false,
            },
            CodecSupport {
                codec: Codec::Hevc,
                encode: false,
                decode: false,
                pix_fmts: vec![],
                encoder_name: None,
                decoder_name: None,
                hardware: false,
            },
        ];
        let t = txt(&caps, None, true);
        assert_eq!(t.codecs, ["h264"]);
        assert_eq!(t.auth, Auth::Token);
        assert_eq!(t.fingerprint, None);
    }
}
