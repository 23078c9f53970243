//! Helpers met before, for clients that give no fingerprint: the first connection records
//! the helper's fingerprint (trust on first use, with a warning naming this file), later
//! ones must match it. One line per helper: `host fingerprint`.

use std::path::{Path, PathBuf};

use crate::fingerprint::Fingerprint;
use crate::TlsError;

pub struct KnownHelpers {
    path: PathBuf,
}

impl KnownHelpers {
    /// `$VTREMOTE_KNOWN_HELPERS`, else `known_helpers` in the user's configuration folder.
    pub fn default_location() -> KnownHelpers {
        if let Some(p) = std::env::var_os("VTREMOTE_KNOWN_HELPERS").filter(|p| !p.is_empty()) {
            return KnownHelpers::at(PathBuf::from(p));
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let base = if cfg!(windows) {
            env("APPDATA")
        } else if cfg!(target_os = "macos") {
            env("HOME").map(|h| h.join("Library/Application Support"))
        } else {
            env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config")))
        };
        KnownHelpers::at(
            base.unwrap_or_else(std::env::temp_dir)
                .join("vtremote")
                .join("known_helpers"),
        )
    }

    pub fn at(path: PathBuf) -> KnownHelpers {
        KnownHelpers { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint recorded for `host`; unreadable or malformed lines count as absent.
    pub fn get(&self, host: &str) -> Option<Fingerprint> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        text.lines().rev().find_map(|line| {
            let (h, f) = line.trim().split_once(char::is_whitespace)?;
            (h == host).then(|| Fingerprint::parse(f).ok()).flatten()
        })
    }

    pub fn record(&self, host: &str, fingerprint: Fingerprint) -> Result<(), TlsError> {
        use std::io::Write;
        let state = |what, cause| TlsError::State {
            path: self.path.clone(),
            what,
            cause,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| state("creating its folder", e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| state("opening", e))?;
        writeln!(f, "{host} {fingerprint}").map_err(|e| state("writing", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;

    #[test]
    fn records_and_finds_by_host() {
        let path = std::env::temp_dir().join(format!("vtremote-known-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let known = KnownHelpers::at(path.clone());
        assert_eq!(known.get("mac:5555"), None);
        known.record("mac:5555", fingerprint(b"a")).unwrap();
        known.record("box:5555", fingerprint(b"b")).unwrap();
        assert_eq!(known.get("mac:5555"), Some(fingerprint(b"a")));
        assert_eq!(known.get("box:5555"), Some(fingerprint(b"b")));
        assert_eq!(known.get("mac"), None);
        let _ = std::fs::remove_file(&path);
    }
}
