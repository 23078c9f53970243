//! CONFIGURE options: `ConfigureOptions::parse` on arbitrary key/value pairs, and the
//! CONFIGURE message carrying them encodes and decodes back to the same pairs. Input: text,
//! one `key=value` per line (invalid UTF-8 replaced), which keeps seeds readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_proto::{Configure, ConfigureOptions, Message};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = text
        .split('\n')
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect();
    if let Ok(o) = ConfigureOptions::parse(&pairs) {
        // Whatever was accepted has a name the daemon can log.
        let _ = (o.mode.name(), o.wire_compression.name(), o.quality_mode());
    }
    let c = Configure {
        width: 64,
        height: 48,
        pix_fmt: 1,
        time_base: (1, 25),
        framerate: (25, 1),
        options: pairs,
        extradata: data.to_vec(),
    };
    let msg = Message::Configure(c);
    let Ok(bytes) = msg.to_bytes() else {
        return; // more than 65535 pairs or a string longer than 65535 bytes
    };
    let again = Message::decode(msg.ty(), bytes[12..].to_vec()).expect("CONFIGURE decodes");
    assert_eq!(again, msg);
});
