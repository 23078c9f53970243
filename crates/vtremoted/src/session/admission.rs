//! Who may open a session: the token and the session budget decide, with no I/O, and what
//! HELLO_ACK tells the client either way.

use std::sync::Arc;

use vtremote_proto::{HelloAck, HelloStatus};

use crate::auth::token_matches;
use crate::backend::CodecSupport;
use crate::slots::{SlotGuard, Slots};

/// Extensions offered in HELLO_ACK: VTL wire compression (`wire_compression` 3).
pub const OFFERED_FEATURES: [&str; 1] = ["vtl"];

#[derive(Debug)]
pub enum Admission {
    /// The slot is held until the session's work is done.
    Accepted(SlotGuard),
    AuthFailed,
    Busy {
        active: usize,
        max: usize,
    },
}

/// The token is checked before the budget, so a stranger learns nothing about the load of
/// a helper it may not use.
pub fn admit(expected_token: Option<&[u8]>, presented: &str, slots: &Arc<Slots>) -> Admission {
    if let Some(expected) = expected_token {
        if !token_matches(expected, presented.as_bytes()) {
            return Admission::AuthFailed;
        }
    }
    match slots.try_acquire() {
        Some(slot) => Admission::Accepted(slot),
        None => Admission::Busy {
            active: slots.active(),
            max: slots.max(),
        },
    }
}

/// HELLO_ACK's codec list: the codecs this helper serves, then the extensions we offer as
/// `+name` entries. The original client ignores the list; ours reads the entries to know
/// what it may ask for (docs/protocol.md).
pub fn advertised_codecs(capabilities: &[CodecSupport]) -> Vec<String> {
    capabilities
        .iter()
        .filter(|c| c.encode || c.decode)
        .map(|c| c.codec.wire_name().to_string())
        .chain(OFFERED_FEATURES.iter().map(|f| format!("+{f}")))
        .collect()
}

/// The whole truth about this helper, whatever the status: clients use the counts to
/// choose among helpers.
pub fn hello_ack(
    status: HelloStatus,
    server: (&str, &str),
    codecs: Vec<String>,
    slots: &Slots,
) -> HelloAck {
    HelloAck {
        status,
        server_name: server.0.to_string(),
        server_version: server.1.to_string(),
        codecs,
        max_sessions: slots.max().min(u16::MAX as usize) as u16,
        active_sessions: slots.active().min(u16::MAX as usize) as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::Codec;

    #[test]
    fn wrong_or_missing_token_is_refused_before_the_budget_is_touched() {
        let slots = Slots::new(1);
        assert!(matches!(
            admit(Some(b"secret"), "guess", &slots),
            Admission::AuthFailed
        ));
        assert!(matches!(
            admit(Some(b"secret"), "", &slots),
            Admission::AuthFailed
        ));
        assert_eq!(slots.active(), 0);
    }

    #[test]
    fn right_token_takes_a_slot_until_the_guard_drops() {
        let slots = Slots::new(1);
        let Admission::Accepted(slot) = admit(Some(b"secret"), "secret", &slots) else {
            panic!("refused")
        };
        assert_eq!(slots.active(), 1);
        drop(slot);
        assert_eq!(slots.active(), 0);
    }

    #[test]
    fn no_token_configured_accepts_any_token() {
        let slots = Slots::new(1);
        assert!(matches!(
            admit(None, "whatever", &slots),
            Admission::Accepted(_)
        ));
    }

    #[test]
    fn a_full_helper_says_busy_with_its_counts() {
        let slots = Slots::new(2);
        let _a = admit(None, "", &slots);
        let _b = admit(None, "", &slots);
        assert!(matches!(
            admit(None, "", &slots),
            Admission::Busy { active: 2, max: 2 }
        ));
    }

    #[test]
    fn codec_list_names_served_codecs_then_offered_extensions() {
        let support = |codec, encode, decode| CodecSupport {
            codec,
            encode,
            decode,
            pix_fmts: vec![],
            encoder_name: None,
            decoder_name: None,
            hardware: false,
        };
        let caps = [
            support(Codec::H264, true, true),
            support(Codec::Hevc, false, false),
        ];
        assert_eq!(advertised_codecs(&caps), ["h264", "+vtl"]);
    }

    #[test]
    fn hello_ack_reports_the_real_session_counts() {
        let slots = Slots::new(3);
        let _held = slots.try_acquire();
        let ack = hello_ack(HelloStatus::Busy, ("n", "v"), vec![], &slots);
        assert_eq!((ack.max_sessions, ack.active_sessions), (3, 1));
    }
}
