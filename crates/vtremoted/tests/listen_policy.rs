//! The daemon binary refuses to serve beyond loopback without a token unless told to
//! (`--allow-no-token`), before it starts a backend or binds anything. Runs on every platform
//! and with any backend: the refusal comes first. Nothing here listens beyond loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vtremoted");

/// Runs vtremoted with `args` and returns (exit status, stderr). It must exit on its own
/// within 10 s; one that serves instead (the refusal regressed) is killed and fails the test.
fn refused(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vtremoted");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vtremoted {args:?} is serving instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    assert!(
        out.stdout.is_empty(),
        "printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn default_listen_without_token_is_refused() {
    // The default is 0.0.0.0:5555; nothing may be bound, so this does not clash with a
    // helper running on this machine.
    let (status, err) = refused(&[]);
    assert!(!status.success());
    assert!(
        err.contains("refusing to listen on 0.0.0.0:5555 without a token"),
        "{err}"
    );
    assert!(err.contains("--allow-no-token"), "{err}");
}

#[test]
fn wildcard_ipv6_and_empty_token_file_are_refused() {
    let (status, err) = refused(&["--listen", "[::]:0"]);
    assert!(!status.success());
    assert!(err.contains("[::]:0"), "{err}");

    let dir = std::env::temp_dir().join(format!("vtremoted-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("token");
    std::fs::write(&empty, "\n").unwrap();
    let (status, err) = refused(&[
        "--listen",
        "0.0.0.0:0",
        "--token-file",
        empty.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success());
    assert!(err.contains("is empty"), "{err}");

    let (status, err) = refused(&["--listen", "0.0.0.0:0", "--token", ""]);
    assert!(!status.success());
    assert!(err.contains("without a token"), "{err}");
}

#[test]
fn loopback_without_token_serves() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--log-level", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vtremoted");
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("read stdout");
    assert!(
        line.starts_with("vtremoted listening on 127.0.0.1:"),
        "{line:?}"
    );
}
