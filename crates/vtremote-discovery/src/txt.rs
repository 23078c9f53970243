//! The TXT record: what a helper says about itself before anyone connects. Read from
//! strangers on the LAN, so parsing never fails, never trusts a length and keeps at most a
//! few short entries; anything malformed is simply absent.

use vtremote_tls::Fingerprint;

/// Version of this TXT layout (RFC 6763 §6.7); a new key does not change it, a changed
/// meaning does.
pub const TXT_VERSION: u32 = 1;
/// VTRemote wire protocol version the helper speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// More codec names than any helper has; the rest of a longer list is ignored.
const MAX_CODECS: usize = 8;
/// Longer than any codec wire name ("h264", "hevc").
const MAX_CODEC_NAME: usize = 16;

/// Whether the helper asks for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Token,
    None,
    /// Absent or a value we do not know: learn it by probing.
    Unknown,
}

/// A helper's TXT record, as we write it and as far as we could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txt {
    pub protocol: Option<u32>,
    /// Codecs served (HELLO_ACK's codec names, without the `+` extensions).
    pub codecs: Vec<String>,
    /// The TLS certificate fingerprint, present when the helper serves TLS.
    pub fingerprint: Option<Fingerprint>,
    pub auth: Auth,
}

impl Txt {
    /// The record's strings as key/value pairs, in the order docs/protocol.md lists them.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("txtvers", TXT_VERSION.to_string()),
            (
                "proto",
                self.protocol.unwrap_or(PROTOCOL_VERSION).to_string(),
            ),
            ("codecs", self.codecs.join(",")),
            (
                "auth",
                match self.auth {
                    Auth::Token => "token",
                    Auth::None | Auth::Unknown => "none",
                }
                .to_string(),
            ),
        ];
        if let Some(fp) = &self.fingerprint {
            pairs.push(("fp", fp.to_string()));
        }
        pairs
    }

    /// Reads a record through `value` (a key's value, `None` when the key is absent or has
    /// no value). Never fails: what cannot be read is left out.
    pub fn parse<'a>(value: impl Fn(&str) -> Option<&'a [u8]>) -> Txt {
        let text = |key: &str| value(key).and_then(|v| std::str::from_utf8(v).ok());
        Txt {
            protocol: text("proto").and_then(|v| v.parse().ok()),
            codecs: text("codecs").map(parse_codecs).unwrap_or_default(),
            fingerprint: text("fp").and_then(|v| Fingerprint::parse(v).ok()),
            auth: match text("auth") {
                Some("token") => Auth::Token,
                Some("none") => Auth::None,
                _ => Auth::Unknown,
            },
        }
    }
}

fn parse_codecs(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|c| {
            !c.is_empty()
                && c.len() <= MAX_CODEC_NAME
                && c.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .take(MAX_CODECS)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &[u8])]) -> Txt {
        let map: HashMap<String, Vec<u8>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        Txt::parse(|k| map.get(k).map(Vec::as_slice))
    }

    #[test]
    fn what_we_write_reads_back() {
        let txt = Txt {
            protocol: Some(1),
            codecs: vec!["h264".into(), "hevc".into()],
            fingerprint: Some(vtremote_tls::fingerprint(b"cert")),
            auth: Auth::Token,
        };
        let pairs = txt.to_pairs();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["txtvers", "proto", "codecs", "auth", "fp"]);
        let map: HashMap<&str, &str> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(map["codecs"], "h264,hevc");
        assert!(map["fp"].starts_with("SHA256:"));
        let back = Txt::parse(|k| map.get(k).map(|v| v.as_bytes()));
        assert_eq!(back, txt);
    }

    #[test]
    fn without_tls_there_is_no_fp_key() {
        let txt = Txt {
            protocol: None,
            codecs: vec![],
            fingerprint: None,
            auth: Auth::None,
        };
        assert!(txt.to_pairs().iter().all(|(k, _)| *k != "fp"));
    }

    #[test]
    fn hostile_values_are_left_out_not_trusted() {
        let long = vec![b'a'; 255];
        let many = "h264,".repeat(50);
        let txt = lookup(&[
            ("proto", b"99999999999999999999"),
            ("codecs", many.as_bytes()),
            ("fp", b"SHA256:not-base64"),
            ("auth", &[0xff, 0xfe]),
        ]);
        assert_eq!(txt.protocol, None);
        assert_eq!(txt.codecs.len(), MAX_CODECS);
        assert_eq!(txt.fingerprint, None);
        assert_eq!(txt.auth, Auth::Unknown);
        let txt = lookup(&[("codecs", &long), ("fp", &long)]);
        assert!(txt.codecs.is_empty());
        assert_eq!(txt.fingerprint, None);
        let txt = lookup(&[("codecs", b"h264,,h\xc3\xa9vc,../x,hevc")]);
        assert_eq!(txt.codecs, ["h264", "hevc"]);
        assert_eq!(lookup(&[]).auth, Auth::Unknown);
    }
}
