//! `vtremote`: probe a helper, encode raw NV12/P010 files and decode Annex B files remotely.

mod au;
mod top;
mod wirebench;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use vtremote_client::{
    ClientConfig, ClientError, Codec, DecoderParams, EncoderParams, InputFrame, InputPacket,
    PixelFormat, PlaneSource, Received, Refused, RemoteDecoder, RemoteEncoder, Tls,
    WireCompression,
};

#[derive(Debug, Parser)]
#[command(
    name = "vtremote",
    version,
    about = "Use another machine's hardware video codecs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CodecArg {
    H264,
    Hevc,
}

impl From<CodecArg> for Codec {
    fn from(c: CodecArg) -> Codec {
        match c {
            CodecArg::H264 => Codec::H264,
            CodecArg::Hevc => Codec::Hevc,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PixFmtArg {
    Nv12,
    P010,
}

impl From<PixFmtArg> for PixelFormat {
    fn from(p: PixFmtArg) -> Self {
        match p {
            PixFmtArg::Nv12 => PixelFormat::Nv12,
            PixFmtArg::P010 => PixelFormat::P010,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    None,
    Lz4,
    Zstd,
    /// VTL, our lossless picture coder, where the helper offers it (zstd otherwise).
    Vtl,
}

#[derive(Debug, clap::Args)]
struct Conn {
    /// Helper address HOST:PORT, a pool (A:PORT,B:PORT, or a name with several addresses),
    /// or `auto`: helpers found over mDNS (browsing 1.5 s; $VTREMOTE_DISCOVERY_MS,
    /// 1300..10000, changes that).
    #[arg(long)]
    host: String,
    #[command(flatten)]
    security: Security,
    /// Timeout for connecting and for each wait, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// How long a job whose helper fails mid-stream waits for another (or the same one
    /// back) to take over, in milliseconds; 0 tries once.
    #[arg(long, default_value_t = vtremote_client::DEFAULT_FAILOVER_WAIT.as_millis() as u64)]
    failover_timeout_ms: u64,
    /// Fail the job with the helper's error instead of going on with another helper.
    #[arg(long)]
    no_failover: bool,
}

/// Token and encryption, shared by every command that connects.
#[derive(Debug, clap::Args)]
struct Security {
    /// Token the helper expects. Prefer --token-file or $VTREMOTE_TOKEN: other users see
    /// command lines in `ps`.
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File whose first line is the token.
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
    /// Encrypt with TLS 1.3. Without --tls-fingerprint the helper's fingerprint is
    /// recorded on first use and required afterwards.
    #[arg(long)]
    tls: bool,
    /// The helper's fingerprint (`vtremoted --fingerprint`), SHA256:…; implies --tls.
    #[arg(long, value_name = "SHA256:…", value_parser = parse_fingerprint)]
    tls_fingerprint: Option<vtremote_tls::Fingerprint>,
}

fn parse_fingerprint(s: &str) -> Result<vtremote_tls::Fingerprint, String> {
    vtremote_tls::Fingerprint::parse(s).map_err(|e| e.to_string())
}

impl Security {
    fn apply(&self, c: &mut ClientConfig) -> Result<()> {
        if let Some(t) = &self.token {
            c.token = t.clone();
        }
        if let Some(path) = &self.token_file {
            c.token = vtremote_client::token_from_file(path)
                .with_context(|| format!("reading token file {}", path.display()))?;
        }
        if self.tls || self.tls_fingerprint.is_some() {
            c.tls = Tls::On(self.tls_fingerprint);
        }
        Ok(())
    }
}

fn client_config(host: &str, security: &Security, timeout_ms: u64) -> Result<ClientConfig> {
    let mut c = ClientConfig::new(host);
    security.apply(&mut c)?;
    c.timeout = Duration::from_millis(timeout_ms);
    c.client_name = "vtremote-cli".into();
    Ok(c)
}

impl Conn {
    fn config(&self) -> Result<ClientConfig> {
        let mut c = client_config(&self.host, &self.security, self.timeout_ms)?;
        c.failover = !self.no_failover;
        c.failover_wait = std::time::Duration::from_millis(self.failover_timeout_ms);
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect, handshake, and print what the helper offers.
    Probe {
        /// Helper address HOST:PORT, a pool (A:PORT,B:PORT), or `auto`: helpers found over mDNS
        /// (browsing 1.5 s; $VTREMOTE_DISCOVERY_MS, 1300..10000, changes that).
        host: String,
        #[command(flatten)]
        security: Security,
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Encode a raw NV12/P010 file into an Annex B file.
    Encode {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, value_enum)]
        codec: CodecArg,
        /// Picture size, WxH.
        #[arg(long, value_parser = parse_size)]
        size: (u32, u32),
        /// Frames per second (integer or N/D).
        #[arg(long, value_parser = parse_rate)]
        fps: (u32, u32),
        #[arg(long = "pix-fmt", value_enum, default_value = "nv12")]
        pix_fmt: PixFmtArg,
        /// Target bitrate, e.g. 6M or 2500k.
        #[arg(long, value_parser = parse_bitrate)]
        bitrate: Option<u64>,
        /// Keyframe interval in frames.
        #[arg(long)]
        gop: Option<u32>,
        /// B-frames allowed between references.
        #[arg(long)]
        bframes: Option<u32>,
        #[arg(long, value_enum, default_value = "vtl")]
        compression: CompressionArg,
        /// Any further CONFIGURE option (spec §6.1 key), e.g. --opt allow_sw=1 --opt profile=100.
        #[arg(long = "opt", value_name = "KEY=VALUE", value_parser = parse_option)]
        options: Vec<(String, String)>,
        #[arg(short = 'i')]
        input: PathBuf,
        #[arg(short = 'o')]
        output: PathBuf,
    },
    /// Measure each wire compression on a raw NV12/P010 file: ratio, ms per frame each
    /// way (median, one thread) and a bit-exactness check of every frame.
    WireBench {
        /// Picture size, WxH.
        #[arg(long, value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long = "pix-fmt", value_enum, default_value = "nv12")]
        pix_fmt: PixFmtArg,
        #[arg(short = 'i')]
        input: PathBuf,
        /// Modes to run, in order.
        #[arg(long, value_delimiter = ',', default_value = "none,lz4,zstd,vtl")]
        modes: Vec<CompressionArg>,
        /// At most this many frames from the start of the file.
        #[arg(long, default_value_t = 120)]
        frames: usize,
        /// JSON instead of a Markdown table.
        #[arg(long)]
        json: bool,
    },
    /// Live view of helpers from their metrics endpoints (vtremoted --metrics-listen):
    /// sessions, fps, MB/s, latency, errors.
    Top(top::TopArgs),
    /// Decode an Annex B file into raw NV12 (8-bit) or P010 (10-bit) at the stream's size.
    Decode {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, value_enum)]
        codec: CodecArg,
        #[arg(long, value_enum, default_value = "vtl")]
        compression: CompressionArg,
        #[arg(short = 'i')]
        input: PathBuf,
        #[arg(short = 'o')]
        output: PathBuf,
    },
}

fn parse_option(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE, e.g. allow_sw=1"))?;
    if k.is_empty() || matches!(k, "mode" | "wire_compression") {
        return Err(format!(
            "{k:?} cannot be set with --opt (mode is implied, use --compression)"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WxH, e.g. 1920x1080")?;
    Ok((
        w.parse().map_err(|_| format!("bad width {w:?}"))?,
        h.parse().map_err(|_| format!("bad height {h:?}"))?,
    ))
}

fn parse_rate(s: &str) -> Result<(u32, u32), String> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let n: u32 = n.parse().map_err(|_| format!("bad frame rate {s:?}"))?;
    let d: u32 = d.parse().map_err(|_| format!("bad frame rate {s:?}"))?;
    if n == 0 || d == 0 {
        return Err(format!("frame rate {s:?} must be positive"));
    }
    Ok((n, d))
}

fn parse_bitrate(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1_000.0),
        Some((i, 'm' | 'M')) => (&s[..i], 1_000_000.0),
        Some((i, 'g' | 'G')) => (&s[..i], 1_000_000_000.0),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad bitrate {s:?} (e.g. 6M, 2500k)"))?;
    if v.is_nan() || v <= 0.0 {
        return Err(format!("bitrate {s:?} must be positive"));
    }
    Ok((v * mult) as u64)
}

fn compression(c: CompressionArg) -> WireCompression {
    match c {
        CompressionArg::None => WireCompression::None,
        CompressionArg::Lz4 => WireCompression::Lz4,
        CompressionArg::Zstd => WireCompression::Zstd,
        CompressionArg::Vtl => WireCompression::Vtl,
    }
}

/// One status line, rewritten in place on a terminal and silent otherwise.
struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        let now = Instant::now();
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: now,
            last: now - Duration::from_secs(1),
        }
    }
    fn update(&mut self, what: &str, n: u64, sent: u64, received: u64) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        let s = self.started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r{what} {n} ({:.1} fps)  sent {:.1} Mb/s  received {:.1} Mb/s   ",
            n as f64 / s,
            sent as f64 * 8.0 / s / 1e6,
            received as f64 * 8.0 / s / 1e6
        );
    }
    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

fn probe(host: String, security: Security, timeout_ms: u64) -> Result<()> {
    if vtremote_client::is_discovery(&host) || vtremote_client::pool_members(&host).len() > 1 {
        return probe_pool(&host, &security, timeout_ms);
    }
    let c = client_config(&host, &security, timeout_ms)?;
    let info = vtremote_client::probe(&c, Codec::H264)?;
    let name = if info.name.is_empty() {
        "(unnamed: an original vtremoted)"
    } else {
        &info.name
    };
    println!("server:   {name}");
    println!("address:  {}", info.address);
    println!(
        "version:  {}",
        if info.version.is_empty() {
            "-"
        } else {
            &info.version
        }
    );
    // HELLO_ACK counts the probe's own connection among the active sessions.
    println!(
        "sessions: {} in use of {} (not counting this probe)",
        info.active_sessions.saturating_sub(1),
        info.max_sessions
    );
    println!("codecs:   {} (encode and decode)", info.codecs.join(", "));
    let wire: Vec<&str> = WireCompression::ALL
        .iter()
        .filter(|c| c.is_v1() || info.offers(c.name()))
        .map(|c| c.name())
        .collect();
    println!("wire:     {}", wire.join(", "));
    Ok(())
}

/// One line per member of a pool; fails only when no member answers.
fn probe_pool(host: &str, security: &Security, timeout_ms: u64) -> Result<()> {
    let answers =
        vtremote_client::probe_pool(&client_config(host, security, timeout_ms)?, Codec::H264);
    let mut reachable = 0;
    for (member, answer) in answers {
        match answer {
            Ok(info) => {
                reachable += 1;
                println!(
                    "{member:<24} {:<26} sessions {} of {}  codecs {}",
                    info.name,
                    info.active_sessions.saturating_sub(1),
                    info.max_sessions,
                    info.codecs.join(",")
                );
            }
            Err(e) => println!("{member:<24} unreachable: {e:#}"),
        }
    }
    if reachable == 0 {
        bail!("no helper of the pool answered");
    }
    Ok(())
}

fn write_packet(out: &mut impl Write, extradata: &[u8], keyframe: bool, data: &[u8]) -> Result<()> {
    // Raw Annex B has no container to carry parameter sets: repeat them at each keyframe so
    // every keyframe is a valid starting point.
    if keyframe && !extradata.is_empty() {
        out.write_all(extradata)?;
    }
    out.write_all(data)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn encode(
    conn: Conn,
    codec: Codec,
    (width, height): (u32, u32),
    fps: (u32, u32),
    pix_fmt: PixelFormat,
    bitrate: Option<u64>,
    gop: Option<u32>,
    bframes: Option<u32>,
    wc: WireCompression,
    extra: Vec<(String, String)>,
    input: PathBuf,
    output: PathBuf,
) -> Result<()> {
    let mut config = conn.config()?;
    config.wire_compression = wc;
    let mut options = Vec::new();
    if let Some(b) = bitrate {
        options.push(("bitrate".to_string(), b.to_string()));
    }
    if let Some(g) = gop {
        options.push(("gop".to_string(), g.to_string()));
    }
    if let Some(b) = bframes.filter(|b| *b > 0) {
        options.push(("max_b_frames".to_string(), b.to_string()));
    }
    // Later keys win on the server, so --opt overrides the convenience flags above.
    options.extend(extra);
    let params = EncoderParams {
        codec,
        width,
        height,
        pix_fmt,
        time_base: (fps.1, fps.0),
        framerate: fps,
        options,
    };
    let geometry = vtremote_proto::FrameGeometry::new(width, height, pix_fmt)
        .map_err(|e| anyhow::anyhow!("--size: {e}"))?;
    let frame_bytes = geometry.tight_frame_bytes();
    let mut reader = File::open(&input).with_context(|| format!("opening {}", input.display()))?;
    let file_len = reader.metadata()?.len();
    if file_len % frame_bytes as u64 != 0 {
        eprintln!(
            "warning: {} is {file_len} bytes, not a whole number of {width}x{height} {pix_fmt} frames ({frame_bytes} bytes); the tail is ignored",
            input.display()
        );
    }
    let mut session = RemoteEncoder::<()>::open(&config, &params)?;
    for w in session.warnings() {
        eprintln!("helper warning: {w}");
    }
    let extradata = session.extradata_annexb().to_vec();
    let mut out = BufWriter::new(
        File::create(&output).with_context(|| format!("creating {}", output.display()))?,
    );
    let mut buf = vec![0u8; frame_bytes];
    let luma = geometry.row_bytes(0) * geometry.plane_rows(0);
    let mut progress = Progress::new();
    let mut pts = 0i64;
    let mut packets = 0u64;
    loop {
        match reader.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e).context("reading input"),
        }
        let frame = InputFrame {
            pts,
            duration: 1,
            force_keyframe: false,
            planes: [
                PlaneSource {
                    data: &buf[..luma],
                    stride: geometry.row_bytes(0),
                    row_bytes: geometry.row_bytes(0),
                    rows: geometry.plane_rows(0),
                },
                PlaneSource {
                    data: &buf[luma..],
                    stride: geometry.row_bytes(1),
                    row_bytes: geometry.row_bytes(1),
                    rows: geometry.plane_rows(1),
                },
            ],
            side_data: Vec::new(),
        };
        loop {
            match session.send_frame(&frame, ()) {
                Ok(()) => break,
                Err(Refused {
                    error: ClientError::WouldBlock,
                    ..
                }) => {
                    if let Received::Item((p, _)) = session.receive_packet()? {
                        write_packet(&mut out, &extradata, p.keyframe, &p.data)?;
                        packets += 1;
                    }
                }
                Err(refused) => return Err(refused.error.into()),
            }
        }
        pts += 1;
        while let Received::Item((p, _)) = session.receive_packet()? {
            write_packet(&mut out, &extradata, p.keyframe, &p.data)?;
            packets += 1;
        }
        let st = session.stats();
        progress.update("frames", pts as u64, st.bytes_sent, st.bytes_received);
    }
    session.send_eof()?;
    loop {
        match session.receive_packet()? {
            Received::Item((p, _)) => {
                write_packet(&mut out, &extradata, p.keyframe, &p.data)?;
                packets += 1;
            }
            Received::Eof => break,
            Received::Again => {}
        }
    }
    out.flush()?;
    progress.finish();
    let st = session.stats();
    eprintln!("encoded {pts} frames into {packets} packets: {st}");
    if packets != pts as u64 {
        bail!("helper returned {packets} packets for {pts} frames");
    }
    Ok(())
}

fn decode(
    conn: Conn,
    codec: Codec,
    wc: WireCompression,
    input: PathBuf,
    output: PathBuf,
) -> Result<()> {
    let data = std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
    let units = au::split_access_units(codec, &data);
    if units.is_empty() {
        bail!(
            "{} holds no {codec} NAL units (is it Annex B?)",
            input.display()
        );
    }
    let info = vtremote_media::sps::stream_info_from_annexb(codec, &data)
        .with_context(|| format!("{}: no usable {codec} SPS", input.display()))?;
    let pix_fmt = if info.bit_depth_luma > 8 {
        PixelFormat::P010
    } else {
        PixelFormat::Nv12
    };
    let mut config = conn.config()?;
    config.wire_compression = wc;
    let params = DecoderParams {
        codec,
        width: info.width,
        height: info.height,
        pix_fmt,
        time_base: (1, 90_000),
        extradata: au::parameter_sets(codec, &units[0]),
        options: Vec::new(),
    };
    let mut session = RemoteDecoder::<()>::open(&config, &params)?;
    let mut out = BufWriter::new(
        File::create(&output).with_context(|| format!("creating {}", output.display()))?,
    );
    let mut progress = Progress::new();
    let mut frames = 0u64;
    let write_frame = |out: &mut BufWriter<File>, f: vtremote_client::OutputFrame| -> Result<()> {
        out.write_all(&f.planes[0])?;
        out.write_all(&f.planes[1])?;
        Ok(())
    };
    for (n, unit) in units.iter().enumerate() {
        let packet = InputPacket {
            pts: n as i64,
            dts: n as i64,
            duration: 1,
            keyframe: vtremote_media::nal::access_unit_is_random_access(codec, unit),
            data: unit,
        };
        loop {
            match session.send_packet(&packet, ()) {
                Ok(()) => break,
                Err(Refused {
                    error: ClientError::WouldBlock,
                    ..
                }) => {
                    if let Received::Item((f, _)) = session.receive_frame()? {
                        write_frame(&mut out, f)?;
                        frames += 1;
                    }
                }
                Err(refused) => return Err(refused.error.into()),
            }
        }
        while let Received::Item((f, _)) = session.receive_frame()? {
            write_frame(&mut out, f)?;
            frames += 1;
        }
        let st = session.stats();
        progress.update("frames", frames, st.bytes_sent, st.bytes_received);
    }
    session.send_eof()?;
    loop {
        match session.receive_frame()? {
            Received::Item((f, _)) => {
                write_frame(&mut out, f)?;
                frames += 1;
            }
            Received::Eof => break,
            Received::Again => {}
        }
    }
    out.flush()?;
    progress.finish();
    eprintln!(
        "decoded {} packets into {frames} frames of {}x{} {pix_fmt}: {}",
        units.len(),
        info.width,
        info.height,
        session.stats()
    );
    Ok(())
}

fn wire_bench(
    (width, height): (u32, u32),
    pix_fmt: PixelFormat,
    input: &Path,
    modes: &[CompressionArg],
    max_frames: usize,
    as_json: bool,
) -> Result<()> {
    let geometry =
        vtremote_proto::FrameGeometry::new(width, height, pix_fmt).map_err(anyhow::Error::msg)?;
    let frames = wirebench::read_frames(input, &geometry, max_frames)?;
    let mut results = Vec::new();
    for &m in modes {
        results.push(wirebench::run_mode(compression(m), &geometry, &frames)?);
    }
    if as_json {
        print!("{}", wirebench::json(&geometry, &results));
    } else {
        print!("{}", wirebench::table(&geometry, &results));
    }
    if let Some(bad) = results.iter().find(|r| !r.exact) {
        bail!("{}: decompressed planes differ from the input", bad.mode);
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe {
            host,
            security,
            timeout_ms,
        } => probe(host, security, timeout_ms),
        Command::Encode {
            conn,
            codec,
            size,
            fps,
            pix_fmt,
            bitrate,
            gop,
            bframes,
            compression: c,
            options,
            input,
            output,
        } => encode(
            conn,
            codec.into(),
            size,
            fps,
            pix_fmt.into(),
            bitrate,
            gop,
            bframes,
            compression(c),
            options,
            input,
            output,
        ),
        Command::Top(args) => top::run(args),
        Command::Decode {
            conn,
            codec,
            compression: c,
            input,
            output,
        } => decode(conn, codec.into(), compression(c), input, output),
        Command::WireBench {
            size,
            pix_fmt,
            input,
            modes,
            frames,
            json,
        } => wire_bench(size, pix_fmt.into(), &input, &modes, frames, json),
    };
    if let Err(e) = result {
        eprintln!("vtremote: {e:#}");
        std::process::exit(1);
    }
}
