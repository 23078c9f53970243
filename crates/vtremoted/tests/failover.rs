//! Failover with real daemons: the helper serving a job is killed with SIGKILL mid-stream
//! and the job goes on with the other member of the pool (or the same helper back), with
//! every picture exactly once, in order, decodable.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::collections::BTreeSet;
use std::process::Child;
use std::time::Duration;

use common::*;
use vtremote_client::{
    ClientConfig, ClientError, Codec, DecoderParams, EncoderParams, InputFrame, InputPacket,
    OutputPacket, PixelFormat, PlaneSource, Received, Refused, RemoteDecoder, RemoteEncoder,
    WireCompression,
};
use vtremote_proto::FrameGeometry;

const PICTURES: i64 = 90;

fn geometry() -> FrameGeometry {
    FrameGeometry::new(160, 128, PixelFormat::Nv12).unwrap()
}

fn h264_params(options: &[(&str, &str)]) -> EncoderParams {
    encoder_params(Codec::H264, geometry(), options)
}

fn pool_config(members: &[std::net::SocketAddr], wc: WireCompression) -> ClientConfig {
    let mut cfg = client(members[0], wc);
    cfg.host = members
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",");
    cfg.inflight = 8;
    cfg
}

/// Kills whichever helper `address` names (SIGKILL: no goodbye on the wire).
fn kill_serving(helpers: &mut [(Child, std::net::SocketAddr)], address: &str) {
    let (child, _) = helpers
        .iter_mut()
        .find(|(_, a)| a.to_string() == address)
        .unwrap_or_else(|| panic!("{address} is not one of the helpers"));
    child.kill().unwrap();
    child.wait().unwrap();
}

fn frame<'a>(g: &FrameGeometry, pic: &'a [u8], pts: i64) -> InputFrame<'a> {
    let luma = g.row_bytes(0) * g.plane_rows(0);
    InputFrame {
        pts,
        duration: 1,
        force_keyframe: false,
        planes: [
            PlaneSource {
                data: &pic[..luma],
                stride: g.row_bytes(0),
                row_bytes: g.row_bytes(0),
                rows: g.plane_rows(0),
            },
            PlaneSource {
                data: &pic[luma..],
                stride: g.row_bytes(1),
                row_bytes: g.row_bytes(1),
                rows: g.plane_rows(1),
            },
        ],
        side_data: vec![],
    }
}

/// Encodes PICTURES pictures; `on_packet(count, packet, encoder)` runs after each packet.
fn encode_all(
    enc: &mut RemoteEncoder<i64>,
    mut on_packet: impl FnMut(usize, &OutputPacket, &RemoteEncoder<i64>),
) -> Result<(Vec<OutputPacket>, Vec<Vec<u8>>), ClientError> {
    let g = geometry();
    let mut packets = Vec::new();
    let mut inputs = Vec::new();
    let mut take = |p: OutputPacket, cookie: Option<i64>, enc: &RemoteEncoder<i64>| {
        assert_eq!(
            cookie,
            Some(p.pts),
            "each packet comes with its picture's cookie"
        );
        on_packet(packets.len() + 1, &p, enc);
        packets.push(p);
    };
    for pts in 0..PICTURES {
        let pic = synthetic_frame(&g, pts as u32);
        let input = frame(&g, &pic, pts);
        let mut cookie = pts;
        loop {
            match enc.send_frame(&input, cookie) {
                Ok(()) => break,
                Err(Refused {
                    error: ClientError::WouldBlock,
                    cookie: back,
                }) => {
                    cookie = back;
                    if let Received::Item((p, c)) = enc.receive_packet()? {
                        take(p, c, enc);
                    }
                }
                Err(r) => return Err(r.error),
            }
        }
        inputs.push(pic);
        while let Received::Item((p, c)) = enc.receive_packet()? {
            take(p, c, enc);
        }
    }
    enc.send_eof()?;
    loop {
        match enc.receive_packet()? {
            Received::Item((p, c)) => take(p, c, enc),
            Received::Eof => break,
            Received::Again => panic!("Again after the end of input"),
        }
    }
    Ok((packets, inputs))
}

fn assert_whole_stream(
    packets: &[OutputPacket],
    extradata: &[u8],
    inputs: &[Vec<u8>],
    name: &str,
    codec: Codec,
) {
    let pts: BTreeSet<i64> = packets.iter().map(|p| p.pts).collect();
    assert_eq!(packets.len() as i64, PICTURES, "one packet per picture");
    assert_eq!(pts, (0..PICTURES).collect(), "every picture exactly once");
    for w in packets.windows(2) {
        assert!(
            w[0].dts < w[1].dts,
            "dts increase: {} then {}",
            w[0].dts,
            w[1].dts
        );
    }
    for p in packets {
        assert!(p.dts <= p.pts, "dts {} after pts {}", p.dts, p.pts);
    }
    let dir = tmpdir(name);
    let file = dir.join(match codec {
        Codec::H264 => "out.h264",
        Codec::Hevc => "out.hevc",
    });
    let mut stream = extradata.to_vec();
    for p in packets {
        stream.extend_from_slice(&p.data);
    }
    std::fs::write(&file, &stream).unwrap();
    let g = geometry();
    let decoded = reference_decode(&file, g.pix_fmt);
    let size = inputs[0].len();
    assert_eq!(
        decoded.len(),
        size * PICTURES as usize,
        "decodes to every picture"
    );
    for (n, (got, want)) in decoded.chunks(size).zip(inputs).enumerate() {
        let psnr = luma_psnr(&g, got, want);
        assert!(psnr > 30.0, "picture {n}: {psnr:.1} dB");
    }
}

#[test]
fn killing_the_serving_helper_mid_encode_loses_no_picture() {
    for (codec, wc, bframes) in [
        (Codec::H264, WireCompression::Vtl, "2"),
        (Codec::H264, WireCompression::None, "0"),
        (Codec::Hevc, WireCompression::Zstd, "2"),
    ] {
        let mut helpers = vec![
            spawn_daemon_binary(&["--no-tls"]),
            spawn_daemon_binary(&["--no-tls"]),
        ];
        let addrs: Vec<_> = helpers.iter().map(|(_, a)| *a).collect();
        let cfg = pool_config(&addrs, wc);
        let mut enc = RemoteEncoder::<i64>::open(
            &cfg,
            &encoder_params(
                codec,
                geometry(),
                &[("max_b_frames", bframes), ("gop", "30")],
            ),
        )
        .expect("open on the pool");
        let extradata = enc.extradata_annexb().to_vec();
        let mut killed = None;
        // Killed right after a packet that is ahead of pictures still to come back (a P
        // picture before its B pictures), where a splice is hardest.
        let (packets, inputs) = encode_all(&mut enc, |n, p, enc| {
            let ahead = p.pts >= n as i64 || bframes == "0";
            if n >= 25 && ahead && killed.is_none() {
                let serving = enc.server_info().unwrap().address.clone();
                kill_serving(&mut helpers, &serving);
                killed = Some(serving);
            }
        })
        .expect("the job survives the helper");
        assert!(killed.is_some());
        assert_eq!(enc.takeovers(), 1, "{codec} {wc}: one helper took over");
        assert_ne!(enc.server_info().unwrap().address, killed.unwrap());
        assert_whole_stream(
            &packets,
            &extradata,
            &inputs,
            &format!("enc-{codec}-{wc}"),
            codec,
        );
        for (mut c, _) in helpers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn a_hung_helper_is_left_out_and_another_member_takes_over() {
    let helpers = vec![
        spawn_daemon_binary(&["--no-tls"]),
        spawn_daemon_binary(&["--no-tls"]),
    ];
    let addrs: Vec<_> = helpers.iter().map(|(_, a)| *a).collect();
    let mut cfg = pool_config(&addrs, WireCompression::Zstd);
    cfg.timeout = Duration::from_millis(1500);
    let mut enc = RemoteEncoder::<i64>::open(&cfg, &h264_params(&[])).unwrap();
    let extradata = enc.extradata_annexb().to_vec();
    let mut stopped = None;
    let (packets, inputs) = encode_all(&mut enc, |n, _, enc| {
        if n == 20 && stopped.is_none() {
            // SIGSTOP: the helper keeps its socket and its port but answers nothing, so
            // only the timeout notices, and a probe would still reach its listen queue.
            let serving = enc.server_info().unwrap().address.clone();
            let (child, _) = helpers
                .iter()
                .find(|(_, a)| a.to_string() == serving)
                .unwrap();
            let pid = child.id().to_string();
            assert!(std::process::Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap()
                .success());
            stopped = Some((pid, serving));
        }
    })
    .expect("the job survives a hung helper");
    let (pid, hung) = stopped.unwrap();
    assert_eq!(enc.takeovers(), 1);
    assert_ne!(enc.server_info().unwrap().address, hung);
    assert_whole_stream(&packets, &extradata, &inputs, "hung", Codec::H264);
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status();
    for (mut c, _) in helpers {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn a_hung_helper_alone_fails_the_job_at_once_with_its_own_error() {
    let mut helpers = vec![spawn_daemon_binary(&["--no-tls"])];
    let mut cfg = pool_config(&[helpers[0].1], WireCompression::Zstd);
    cfg.timeout = Duration::from_millis(1000);
    let mut enc = RemoteEncoder::<i64>::open(&cfg, &h264_params(&[])).unwrap();
    let pid = helpers[0].0.id().to_string();
    let e = encode_all(&mut enc, |n, _, _| {
        if n == 10 {
            let stop = std::process::Command::new("kill")
                .args(["-STOP", &pid])
                .status();
            assert!(stop.unwrap().success());
        }
    })
    .expect_err("nobody else to ask");
    assert!(
        matches!(e, ClientError::Timeout { .. }),
        "the helper's own error, not a failover: {e}"
    );
    assert_eq!(enc.takeovers(), 0);
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status();
    let (mut c, _) = helpers.remove(0);
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn the_same_helper_back_on_its_port_takes_over() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let (child, addr) = spawn_daemon_binary_on(&listen);
    let mut helpers = vec![(child, addr)];
    let mut cfg = pool_config(&[addr], WireCompression::Zstd);
    cfg.failover_wait = Duration::from_secs(30);
    let mut enc = RemoteEncoder::<i64>::open(&cfg, &h264_params(&[])).unwrap();
    let extradata = enc.extradata_annexb().to_vec();
    let mut restarted = None;
    let (packets, inputs) = encode_all(&mut enc, |n, _, enc| {
        if n == 40 && restarted.is_none() {
            kill_serving(&mut helpers, &enc.server_info().unwrap().address);
            // Back after a moment, as a service manager would restart it.
            let listen = listen.clone();
            restarted = Some(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                spawn_daemon_binary_on(&listen).0
            }));
        }
    })
    .expect("the job survives the restart");
    assert_eq!(enc.takeovers(), 1);
    assert_whole_stream(&packets, &extradata, &inputs, "same-helper", Codec::H264);
    let mut back = restarted.unwrap().join().unwrap();
    let _ = back.kill();
    let _ = back.wait();
}

#[test]
fn with_no_helper_left_the_error_says_what_was_lost_and_how_long_it_waited() {
    let mut helpers = vec![spawn_daemon_binary(&["--no-tls"])];
    let mut cfg = pool_config(&[helpers[0].1], WireCompression::Zstd);
    cfg.failover_wait = Duration::from_millis(600);
    let mut enc = RemoteEncoder::<i64>::open(&cfg, &h264_params(&[])).unwrap();
    let e = encode_all(&mut enc, |n, _, enc| {
        if n == 10 {
            kill_serving(&mut helpers, &enc.server_info().unwrap().address);
        }
    })
    .expect_err("nobody takes over");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}: lost the helper (", cfg.host))
            && text.contains("no helper took over within 600 ms")
            && text.contains("connection refused"),
        "{text}"
    );
    // The stream cannot go on: later calls say so instead of reconnecting behind its back.
    let again = enc.send_eof().expect_err("still failed");
    assert_eq!(again.to_string(), text);
    enc.reset();
    assert!(
        enc.send_eof().is_err(),
        "a reset reconnects, and there is nobody"
    );
}

#[test]
fn failover_off_fails_the_job_with_the_helper_error() {
    let mut helpers = vec![
        spawn_daemon_binary(&["--no-tls"]),
        spawn_daemon_binary(&["--no-tls"]),
    ];
    let addrs: Vec<_> = helpers.iter().map(|(_, a)| *a).collect();
    let mut cfg = pool_config(&addrs, WireCompression::Zstd);
    cfg.failover = false;
    let mut enc = RemoteEncoder::<i64>::open(&cfg, &h264_params(&[])).unwrap();
    let e = encode_all(&mut enc, |n, _, enc| {
        if n == 10 {
            kill_serving(&mut helpers, &enc.server_info().unwrap().address);
        }
    })
    .expect_err("no failover");
    assert!(
        matches!(e, ClientError::Closed { .. } | ClientError::Io { .. }),
        "{e}"
    );
    for (mut c, _) in helpers {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn killing_the_serving_helper_mid_decode_delivers_every_picture_once() {
    // A stream to decode, with a keyframe every 12 pictures and B-frames.
    let maker = start_daemon(None, 2);
    let mut cfg = client(maker.addr, WireCompression::Zstd);
    cfg.inflight = 8;
    let mut enc =
        RemoteEncoder::<i64>::open(&cfg, &h264_params(&[("gop", "12"), ("max_b_frames", "2")]))
            .unwrap();
    let extradata = enc.extradata_annexb().to_vec();
    let (packets, _) = encode_all(&mut enc, |_, _, _| {}).unwrap();
    let dir = tmpdir("decode-failover");
    let file = dir.join("in.h264");
    let mut stream = extradata.clone();
    for p in &packets {
        stream.extend_from_slice(&p.data);
    }
    std::fs::write(&file, &stream).unwrap();
    let g = geometry();
    let reference = reference_decode(&file, g.pix_fmt);

    let mut helpers = vec![
        spawn_daemon_binary(&["--no-tls"]),
        spawn_daemon_binary(&["--no-tls"]),
    ];
    let addrs: Vec<_> = helpers.iter().map(|(_, a)| *a).collect();
    let cfg = pool_config(&addrs, WireCompression::Vtl);
    let params = DecoderParams {
        codec: Codec::H264,
        width: g.width,
        height: g.height,
        pix_fmt: g.pix_fmt,
        time_base: (1, 30),
        extradata: vtremote_media::extradata::annexb_to_record(Codec::H264, &extradata).unwrap(),
        options: vec![],
    };
    let mut dec = RemoteDecoder::<i64>::open(&cfg, &params).unwrap();
    let mut pictures: Vec<Vec<u8>> = Vec::new();
    let mut killed = false;
    let mut take =
        |f: vtremote_client::OutputFrame, dec: &RemoteDecoder<i64>, pictures: &mut Vec<Vec<u8>>| {
            let mut pic = f.planes[0].clone();
            pic.extend_from_slice(&f.planes[1]);
            pictures.push(pic);
            if pictures.len() == 30 && !killed {
                kill_serving(&mut helpers, &dec.server_info().unwrap().address);
                killed = true;
            }
        };
    for p in &packets {
        let input = InputPacket {
            pts: p.pts,
            dts: p.dts,
            duration: 1,
            keyframe: p.keyframe,
            data: &p.data,
        };
        loop {
            match dec.send_packet(&input, p.pts) {
                Ok(()) => break,
                Err(Refused {
                    error: ClientError::WouldBlock,
                    ..
                }) => {
                    if let Received::Item((f, _)) = dec.receive_frame().unwrap() {
                        take(f, &dec, &mut pictures);
                    }
                }
                Err(r) => panic!("send_packet: {}", r.error),
            }
        }
        while let Received::Item((f, _)) = dec.receive_frame().unwrap() {
            take(f, &dec, &mut pictures);
        }
    }
    dec.send_eof().unwrap();
    loop {
        match dec.receive_frame().unwrap() {
            Received::Item((f, _)) => take(f, &dec, &mut pictures),
            Received::Eof => break,
            Received::Again => panic!("Again after the end of input"),
        }
    }
    assert!(killed);
    assert_eq!(dec.takeovers(), 1);
    let size = reference.len() / PICTURES as usize;
    assert_eq!(pictures.len(), PICTURES as usize, "every picture once");
    for (n, (got, want)) in pictures.iter().zip(reference.chunks(size)).enumerate() {
        assert!(got == want, "picture {n} differs from a local decode");
    }
}

/// The daemon binary on a given address (a restart on the same port).
fn spawn_daemon_binary_on(listen: &str) -> (Child, std::net::SocketAddr) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtremoted"))
        .args(["--listen", listen, "--backend", "libavcodec", "--no-tls"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run vtremoted");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, listen.parse().unwrap())
}
