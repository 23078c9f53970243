//! `vtremoted` command line.

use std::net::ToSocketAddrs;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use tracing::{info, warn};
use vtremote_proto::Codec;
use vtremoted::backend::Backend;
use vtremoted::server::{exposure_refusal, is_loopback, wake, Server, ServerConfig};
use vtremoted::transport::TlsPolicy;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum BackendChoice {
    Auto,
    Videotoolbox,
    Libavcodec,
    /// Fixed packets and pictures, for `make bench-ceiling` only.
    #[cfg(feature = "bench-ceiling")]
    Ceiling,
}

/// Serve remote H.264/HEVC encode and decode over VTRemote v1.
#[derive(Debug, Parser)]
#[command(name = "vtremoted", version)]
struct Args {
    /// Address to listen on (IPv4, [IPv6] or host name, with port). Beyond loopback a token
    /// is required unless --allow-no-token is given.
    #[arg(long, default_value = "0.0.0.0:5555")]
    listen: String,
    /// Shared secret clients must present. Prefer --token-file: argv is visible to other users.
    #[arg(long)]
    token: Option<String>,
    /// File whose first line is the token.
    #[arg(long, conflicts_with = "token")]
    token_file: Option<std::path::PathBuf>,
    /// Serve clients without a token on an address other machines can reach (by default
    /// that is refused; loopback addresses never need a token).
    #[arg(long)]
    allow_no_token: bool,
    /// Most sessions served at once; further clients are told "busy".
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    max_sessions: u16,
    /// 0 = errors, 1 = info (session summaries), 2 = debug, 3 = trace.
    #[arg(long, default_value = "1", value_parser = parse_log_level)]
    log_level: u8,
    /// Codec backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// libavcodec encoder per codec, e.g. --encoder h264=h264_nvenc --encoder hevc=libx265.
    #[arg(long = "encoder", value_name = "CODEC=NAME", value_parser = parse_encoder)]
    encoders: Vec<(Codec, String)>,
    /// Drop a client that sends nothing for this long (milliseconds).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..))]
    idle_timeout_ms: u64,
    /// Serve one connection, then exit.
    #[arg(long)]
    once: bool,
    /// Print which encoders and decoders this machine can use, then exit.
    #[arg(long)]
    list_codecs: bool,
    /// Where the helper keeps its TLS key (created on first start). Default: the user's
    /// state folder, /var/lib/vtremoted for root (macOS: Application Support).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<std::path::PathBuf>,
    /// Refuse plain (unencrypted) clients; they get an ERROR saying TLS is required.
    #[arg(long, conflicts_with = "no_tls")]
    require_tls: bool,
    /// Serve plain v1 only (no key is created).
    #[arg(long)]
    no_tls: bool,
    /// Print this helper's TLS fingerprint (what clients pin), then exit.
    #[arg(long)]
    fingerprint: bool,
    /// Do not advertise this helper over mDNS. By default it is announced as
    /// _vtremote._tcp (TXT: protocol version, codecs, TLS fingerprint, whether a token is
    /// needed) on the listening address's interface, or on every interface for 0.0.0.0, so
    /// that clients given the host `auto` find it; the system responder (Avahi,
    /// mDNSResponder) keeps running alongside.
    #[arg(long)]
    no_mdns: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9555 or [::]:9555
    /// (plain HTTP, no token: counts only, no addresses). Off unless given.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
}

fn parse_log_level(s: &str) -> Result<u8, String> {
    match s.to_ascii_lowercase().as_str() {
        "0" | "error" => Ok(0),
        "1" | "info" => Ok(1),
        "2" | "debug" => Ok(2),
        "3" | "trace" => Ok(3),
        _ => Err(format!(
            "{s:?} is not a log level (0..3 or error/info/debug/trace)"
        )),
    }
}

fn parse_encoder(s: &str) -> Result<(Codec, String), String> {
    let (c, name) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected CODEC=NAME, e.g. h264=h264_nvenc"))?;
    let codec = Codec::from_wire_name(c).ok_or_else(|| format!("{c:?} is not h264 or hevc"))?;
    if name.is_empty() {
        return Err(format!("{s:?}: empty encoder name"));
    }
    Ok((codec, name.to_string()))
}

fn make_backend(args: &Args) -> Result<Arc<dyn Backend>> {
    let want_vt = match args.backend {
        BackendChoice::Videotoolbox => true,
        BackendChoice::Libavcodec => false,
        BackendChoice::Auto => cfg!(target_os = "macos"),
        #[cfg(feature = "bench-ceiling")]
        BackendChoice::Ceiling => {
            return Ok(Arc::new(vtremoted::backend::ceiling::CeilingBackend::new()))
        }
    };
    if want_vt {
        #[cfg(target_os = "macos")]
        {
            let vt = vtremoted::backend::videotoolbox::VideoToolboxBackend::new()
                .context("starting the VideoToolbox backend")?;
            return Ok(Arc::new(vt));
        }
        #[cfg(not(target_os = "macos"))]
        bail!("the VideoToolbox backend exists only on macOS; use --backend libavcodec");
    }
    // Never on macOS: see the `lavc` feature in Cargo.toml.
    #[cfg(all(feature = "lavc", not(target_os = "macos")))]
    {
        let lavc = vtremoted::backend::lavc::LavcBackend::new(&args.encoders)
            .context("starting the libavcodec backend")?;
        Ok(Arc::new(lavc))
    }
    #[cfg(not(all(feature = "lavc", not(target_os = "macos"))))]
    bail!("this vtremoted was built without the libavcodec backend")
}

fn read_token(args: &Args) -> Result<Option<Vec<u8>>> {
    match (&args.token, &args.token_file) {
        // An empty token disables authentication, as in the original daemon.
        (Some(t), _) => Ok((!t.is_empty()).then(|| t.clone().into_bytes())),
        (None, Some(path)) => token_from_file(path),
        (None, None) => Ok(None),
    }
}

/// SIGHUP: the token file is read again; a file that cannot be read keeps the old token.
fn reload_token(path: Option<&std::path::Path>, token: &std::sync::RwLock<Option<Vec<u8>>>) {
    let Some(path) = path else {
        warn!("SIGHUP: no --token-file to reload; token unchanged");
        return;
    };
    match token_from_file(path) {
        Ok(new) => {
            let on = new.is_some();
            *token.write().unwrap_or_else(|e| e.into_inner()) = new;
            info!(
                "SIGHUP: token reloaded from {} ({})",
                path.display(),
                if on {
                    "set"
                } else {
                    "empty: no authentication"
                }
            );
        }
        Err(e) => warn!("SIGHUP: {e:#}; token unchanged"),
    }
}

fn token_from_file(path: &std::path::Path) -> Result<Option<Vec<u8>>> {
    let first = std::fs::read_to_string(path)
        .with_context(|| format!("reading token file {}", path.display()))?
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    Ok((!first.is_empty()).then(|| first.into_bytes()))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let level = ["error", "info", "debug", "trace"][args.log_level as usize];
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VTREMOTED_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    if args.list_codecs {
        list_codecs(&args)
    } else if args.fingerprint {
        let identity = load_identity(&args)?;
        println!("{}", identity.fingerprint);
        Ok(())
    } else {
        serve(&args)
    }
}

fn load_identity(args: &Args) -> Result<vtremote_tls::HelperIdentity> {
    let dir = args
        .state_dir
        .clone()
        .unwrap_or_else(vtremote_tls::default_state_dir);
    vtremote_tls::HelperIdentity::load_or_create(&dir)
        .with_context(|| format!("loading or creating the TLS key in {}", dir.display()))
}

/// TLS is on unless --no-tls; a key that cannot be loaded turns it off with a warning,
/// unless TLS is required.
fn tls_policy(args: &Args) -> Result<(TlsPolicy, Option<String>)> {
    if args.no_tls {
        return Ok((TlsPolicy::plain_only(), None));
    }
    let identity = match load_identity(args) {
        Ok(i) => i,
        Err(e) if !args.require_tls => {
            warn!("TLS off: {e:#} (give --state-dir DIR, or --no-tls to silence this)");
            return Ok((TlsPolicy::plain_only(), None));
        }
        Err(e) => return Err(e),
    };
    let config = identity.server_config().context("TLS setup")?;
    Ok((
        TlsPolicy {
            config: Some(config),
            required: args.require_tls,
        },
        Some(identity.fingerprint.to_string()),
    ))
}

fn list_codecs(args: &Args) -> Result<()> {
    let backend = make_backend(args)?;
    let report = backend.selection_report();
    if !report.is_empty() {
        println!("{}", report.trim_end());
        println!();
    }
    for c in backend.capabilities() {
        println!(
            "{:5} encode: {:<40} decode: {:<20} pixel formats: {}",
            c.codec.wire_name(),
            c.encoder_name.as_deref().unwrap_or("no"),
            c.decoder_name.as_deref().unwrap_or("no"),
            c.pix_fmts
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(())
}

fn serve(args: &Args) -> Result<()> {
    let token = read_token(args)?;
    // Resolved once: the addresses checked are the ones bound.
    let addrs: Vec<_> = args
        .listen
        .to_socket_addrs()
        .with_context(|| format!("cannot listen on {}", args.listen))?
        .collect();
    if let Some(why) = exposure_refusal(&addrs, token.is_some(), args.allow_no_token) {
        let empty_file = match (&args.token_file, &args.token) {
            (Some(f), None) => format!(" (the first line of {} is empty)", f.display()),
            _ => String::new(),
        };
        bail!("{why}{empty_file}");
    }
    // Before the backend starts: a refused address fails at once.
    let backend = make_backend(args)?;
    let has_token = token.is_some();
    let (tls, fingerprint) = tls_policy(args)?;
    let config = ServerConfig {
        token,
        max_sessions: args.max_sessions as usize,
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        once: args.once,
        tls,
    };
    let server = Server::bind(&addrs[..], config, backend.clone())
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = server.local_addr()?;
    if !has_token && !is_loopback(addr.ip()) {
        warn!("listening on {addr} without a token (--allow-no-token): any client that can reach this port may use this helper");
    }
    let metrics_addr = match &args.metrics_listen {
        Some(a) => Some(
            vtremoted::metrics::serve(a.as_str(), server.metrics())
                .with_context(|| format!("cannot serve metrics on {a}"))?,
        ),
        None => None,
    };
    let announcement = if args.no_mdns {
        vtremoted::announce::Announcement::default()
    } else {
        let fp = fingerprint
            .as_deref()
            .and_then(|f| vtremote_tls::Fingerprint::parse(f).ok());
        vtremoted::announce::Announcement::start(addr, backend.capabilities(), fp, has_token)
    };
    let (flag, wake_addr) = server.shutdown_handle();
    let token_handle = server.token_handle();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .context("installing signal handlers")?;
    let token_file = args.token_file.clone();
    let withdraw_on_signal = announcement.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == signal_hook::consts::SIGHUP {
                reload_token(token_file.as_deref(), &token_handle);
                continue;
            }
            // Before the listener stops: browsers drop this helper now, and the process may
            // exit as soon as the flag is seen.
            withdraw_on_signal.withdraw();
            flag.store(true, Ordering::Release);
            wake(wake_addr);
            break;
        }
    });
    info!(
        backend = backend.name(),
        "vtremoted {} listening on {addr}",
        env!("CARGO_PKG_VERSION")
    );
    // Scripts read the bound port from stdout (useful with --listen 127.0.0.1:0).
    println!("vtremoted listening on {addr}");
    match &fingerprint {
        Some(f) => {
            info!(
                "TLS on ({}): fingerprint {f}",
                if args.require_tls {
                    "required"
                } else {
                    "optional"
                }
            );
            println!("vtremoted TLS fingerprint {f}");
        }
        None => info!("TLS off: plain v1 only"),
    }
    if let Some(m) = metrics_addr {
        info!("metrics on http://{m}/metrics");
        println!("vtremoted metrics on {m}");
    }
    server.run();
    announcement.withdraw();
    Ok(())
}
