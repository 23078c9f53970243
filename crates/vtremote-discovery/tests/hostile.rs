//! Strangers on the LAN advertise what they like. Real mDNS on loopback: many instances with
//! oversized, non-UTF-8 and malformed TXT values must give a bounded, well-formed answer.

use std::collections::HashMap;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo, TxtProperty};
use proptest::prelude::*;
use vtremote_discovery::{browse, DiscoveryError, Txt, MAX_FOUND, SERVICE_TYPE};

#[test]
fn a_flood_of_hostile_advertisements_gives_a_bounded_answer() {
    let responder = ServiceDaemon::new().expect("mDNS responder");
    responder
        .disable_interface(IfKind::All)
        .and_then(|()| responder.enable_interface(IfKind::LoopbackV4))
        .expect("loopback only");
    let junk = [0xffu8; 200];
    for i in 0..(MAX_FOUND + 16) {
        let txt: Vec<TxtProperty> = vec![
            ("proto", "99999999999999999999999".as_bytes()).into(),
            ("codecs", "h264,".repeat(40).as_bytes()).into(),
            ("fp", &junk[..]).into(),
            ("auth", &junk[..]).into(),
        ];
        let mut service = ServiceInfo::new(
            SERVICE_TYPE,
            &format!("hostile {i} {}", std::process::id()),
            &format!("hostile-{i}-{}.local.", std::process::id()),
            "127.0.0.1",
            10_000 + i as u16,
            txt,
        )
        .expect("service");
        service.set_interfaces(vec![IfKind::LoopbackV4]);
        service.set_requires_probe(false);
        responder.register(service).expect("register");
    }
    // Whether the loaded machine delivers every answer within the window is not the point:
    // what arrives must be bounded and read safely, and nothing found is a clean error.
    match browse(Duration::from_millis(2000)) {
        Ok(found) => {
            eprintln!(
                "{} helper addresses kept of {} advertised",
                found.len(),
                MAX_FOUND + 16
            );
            assert!(found.len() <= MAX_FOUND, "{} addresses kept", found.len());
            for f in found.iter().filter(|f| f.instance.starts_with("hostile ")) {
                assert_eq!(f.txt.protocol, None);
                assert_eq!(f.txt.fingerprint, None);
                assert!(f.txt.codecs.len() <= 8);
            }
        }
        Err(DiscoveryError::NothingFound { .. }) => {}
        Err(e) => panic!("browse failed: {e}"),
    }
    let _ = responder.shutdown();
}

proptest! {
    #[test]
    fn any_txt_values_parse_without_panic_and_within_bounds(
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 5),
        keys in proptest::collection::vec("[a-z]{1,8}", 5),
    ) {
        let known = ["proto", "codecs", "fp", "auth", "txtvers"].map(String::from);
        let map: HashMap<String, Vec<u8>> = known
            .into_iter()
            .chain(keys)
            .zip(values.iter().cycle().cloned())
            .collect();
        let lookup = |k: &str| map.get(k).map(Vec::as_slice);
        let txt = Txt::parse(lookup);
        prop_assert!(txt.codecs.len() <= 8);
        prop_assert!(txt.codecs.iter().all(|c| c.len() <= 16));
    }
}
