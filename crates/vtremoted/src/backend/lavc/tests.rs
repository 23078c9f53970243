//! Round trips through the real libx264/libx265 and FFmpeg decoders.

use vtremote_proto::options::{ConfigureOptions, FLAG_GLOBAL_HEADER};
use vtremote_proto::{Codec, FrameGeometry, PixelFormat};

use super::encoder::{LavcEncoder, OpenParams};
use super::{LavcBackend, LavcDecoder};
use crate::backend::{
    BackendError, CompressedPacket, DecodedFrame, DecoderConfig, EncodedPacket, EncoderConfig,
    PlaneRef, RawFrame, VideoDecoder, VideoEncoder,
};

const W: u32 = 320;
const H: u32 = 240;
const FRAMES: usize = 30;

/// A wire picture with padded strides, as the original client sends it.
struct Picture {
    y: Vec<u8>,
    c: Vec<u8>,
    y_stride: usize,
    c_stride: usize,
    c_rows: usize,
}

/// Smooth moving content: encoders keep it well above 35 dB at default settings.
fn picture(g: &FrameGeometry, i: usize, short_chroma: bool) -> Picture {
    let bps = g.pix_fmt.bytes_per_sample();
    let (w, h) = (g.width as usize, g.height as usize);
    let y_stride = g.row_bytes(0) + 32;
    let c_stride = g.row_bytes(1) + 32;
    let c_rows = g.plane_rows(1) - usize::from(short_chroma);
    let put = |buf: &mut Vec<u8>, off: usize, v10: u32| {
        if bps == 1 {
            buf[off] = (v10 >> 2) as u8;
        } else {
            buf[off..off + 2].copy_from_slice(&((v10 << 6) as u16).to_le_bytes());
        }
    };
    let mut y = vec![0u8; y_stride * h];
    for r in 0..h {
        for x in 0..w {
            let fx = (x as f64 + 3.0 * i as f64) / 23.0;
            let fy = (r as f64 + i as f64) / 17.0;
            let v = 512.0 + 300.0 * fx.sin() * fy.cos();
            put(&mut y, r * y_stride + x * bps, v as u32);
        }
    }
    let mut c = vec![0u8; c_stride * c_rows];
    for r in 0..c_rows {
        for x in 0..w.div_ceil(2) {
            let f = (x as f64 + r as f64 + 2.0 * i as f64) / 29.0;
            put(
                &mut c,
                r * c_stride + 2 * x * bps,
                (512.0 + 150.0 * f.sin()) as u32,
            );
            put(
                &mut c,
                r * c_stride + (2 * x + 1) * bps,
                (512.0 + 150.0 * f.cos()) as u32,
            );
        }
    }
    Picture {
        y,
        c,
        y_stride,
        c_stride,
        c_rows,
    }
}

fn raw<'a>(
    p: &'a Picture,
    g: &FrameGeometry,
    pts: i64,
    key: bool,
    cc: Option<&'a [u8]>,
) -> RawFrame<'a> {
    RawFrame {
        pts,
        duration: 1,
        force_keyframe: key,
        planes: [
            PlaneRef {
                data: &p.y,
                stride: p.y_stride,
                rows: g.height as usize,
            },
            PlaneRef {
                data: &p.c,
                stride: p.c_stride,
                rows: p.c_rows,
            },
        ],
        a53_cc: cc,
    }
}

fn config(codec: Codec, pix: PixelFormat, f: impl FnOnce(&mut ConfigureOptions)) -> EncoderConfig {
    let mut options = ConfigureOptions::defaults();
    options.flags = FLAG_GLOBAL_HEADER;
    options.gop = 12;
    f(&mut options);
    EncoderConfig {
        codec,
        geometry: FrameGeometry::new(W, H, pix).unwrap(),
        time_base: (1, 30),
        frame_rate: Some((30, 1)),
        options,
        max_delay_frames: 8,
    }
}

fn open(config: &EncoderConfig, name: &str) -> Result<LavcEncoder, BackendError> {
    LavcEncoder::open(
        config,
        &OpenParams {
            encoder: name,
            ncpu: 2,
            render_node: None,
        },
    )
}

struct Encoded {
    packets: Vec<EncodedPacket>,
    extradata: Vec<u8>,
    inputs: Vec<Picture>,
    max_held: u32,
}

fn encode(config: &EncoderConfig, name: &str) -> Encoded {
    let mut enc = open(config, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let g = config.geometry;
    let mut packets = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..FRAMES {
        // Every third picture arrives with the last chroma row missing (odd-height client).
        let p = picture(&g, i, i % 3 == 1);
        enc.encode(&raw(&p, &g, i as i64, i == 0, None), &mut packets)
            .unwrap();
        inputs.push(p);
    }
    enc.flush(&mut packets).unwrap();
    Encoded {
        packets,
        extradata: enc.extradata().to_vec(),
        inputs,
        max_held: enc.max_held,
    }
}

fn check_packets(e: &Encoded, config: &EncoderConfig) {
    assert_eq!(e.packets.len(), FRAMES, "one packet per frame");
    assert!(e.packets[0].keyframe, "stream starts with a keyframe");
    for w in e.packets.windows(2) {
        assert!(
            w[1].dts > w[0].dts,
            "dts strictly increasing: {} then {}",
            w[0].dts,
            w[1].dts
        );
    }
    let mut pts: Vec<i64> = e.packets.iter().map(|p| p.pts).collect();
    pts.sort();
    assert_eq!(pts, (0..FRAMES as i64).collect::<Vec<_>>());
    for p in &e.packets {
        assert!(p.dts <= p.pts);
        assert_eq!(p.duration, 1);
        assert_eq!(&p.data[..4], &[0, 0, 0, 1], "4-byte start code");
        assert!(
            !p.data.windows(4).any(|w| w[0] != 0 && w[1..] == [0, 0, 1]),
            "no 3-byte start codes"
        );
    }
    assert!(
        e.max_held < config.max_delay_frames,
        "encoder held {} frames (limit {})",
        e.max_held,
        config.max_delay_frames
    );
    match config.codec {
        Codec::H264 => {
            vtremote_media::avcc::AvcDecoderConfig::parse(&e.extradata).expect("avcC parses");
        }
        Codec::Hevc => {
            vtremote_media::hvcc::HevcDecoderConfig::parse(&e.extradata).expect("hvcC parses");
        }
    }
}

fn decode(
    codec: Codec,
    g: FrameGeometry,
    extradata: &[u8],
    packets: &[EncodedPacket],
) -> Vec<DecodedFrame> {
    let config = DecoderConfig {
        codec,
        geometry: g,
        time_base: (1, 30),
        extradata: extradata.to_vec(),
        options: ConfigureOptions::defaults(),
    };
    let name = if codec == Codec::H264 { "h264" } else { "hevc" };
    let mut dec = LavcDecoder::open(&config, name, 2).unwrap();
    let mut frames = Vec::new();
    for p in packets {
        dec.decode(
            &CompressedPacket {
                pts: p.pts,
                dts: p.dts,
                duration: p.duration,
                keyframe: p.keyframe,
                data: &p.data,
            },
            &mut frames,
        )
        .unwrap();
    }
    dec.flush(&mut frames).unwrap();
    frames
}

/// PSNR over both planes of the tight picture against the padded input.
fn psnr(g: &FrameGeometry, input: &Picture, out: &DecodedFrame) -> f64 {
    let bps = g.pix_fmt.bytes_per_sample();
    let sample = |buf: &[u8], off: usize| -> f64 {
        if bps == 1 {
            buf[off] as f64
        } else {
            (u16::from_le_bytes([buf[off], buf[off + 1]]) >> 6) as f64
        }
    };
    let peak = if bps == 1 { 255.0 } else { 1023.0 };
    let (mut se, mut n) = (0.0, 0usize);
    for plane in 0..2 {
        let (src, stride, src_rows) = if plane == 0 {
            (&input.y, input.y_stride, g.height as usize)
        } else {
            (&input.c, input.c_stride, input.c_rows)
        };
        let row_bytes = g.row_bytes(plane);
        for r in 0..g.plane_rows(plane) {
            let sr = r.min(src_rows - 1);
            for x in (0..row_bytes).step_by(bps) {
                let d =
                    sample(src, sr * stride + x) - sample(&out.planes[plane], r * row_bytes + x);
                se += d * d;
                n += 1;
            }
        }
    }
    10.0 * (peak * peak / (se / n as f64).max(1e-9)).log10()
}

fn round_trip(config: &EncoderConfig, name: &str) {
    let e = encode(config, name);
    check_packets(&e, config);
    let frames = decode(config.codec, config.geometry, &e.extradata, &e.packets);
    assert_eq!(frames.len(), FRAMES, "one decoded frame per packet");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.pts, i as i64, "display order");
        assert_eq!(
            f.planes[0].len(),
            config.geometry.row_bytes(0) * config.geometry.plane_rows(0)
        );
        assert_eq!(
            f.planes[1].len(),
            config.geometry.row_bytes(1) * config.geometry.plane_rows(1)
        );
        let db = psnr(&config.geometry, &e.inputs[i], f);
        assert!(db >= 35.0, "{name} frame {i}: PSNR {db:.1} dB");
    }
}

#[test]
fn lavc_x264_round_trip_without_b_frames() {
    round_trip(&config(Codec::H264, PixelFormat::Nv12, |_| {}), "libx264");
}

#[test]
fn lavc_x264_round_trip_with_b_frames() {
    let c = config(Codec::H264, PixelFormat::Nv12, |o| o.max_b_frames = 3);
    let e = encode(&c, "libx264");
    assert!(e.packets.iter().any(|p| p.dts < p.pts), "B-frames reorder");
    round_trip(&c, "libx264");
}

#[test]
fn lavc_x265_round_trip_nv12() {
    round_trip(
        &config(Codec::Hevc, PixelFormat::Nv12, |o| o.max_b_frames = 2),
        "libx265",
    );
}

#[test]
fn lavc_x265_round_trip_p010() {
    round_trip(&config(Codec::Hevc, PixelFormat::P010, |_| {}), "libx265");
}

#[test]
fn lavc_delay_stays_below_every_budget() {
    for (codec, name) in [(Codec::H264, "libx264"), (Codec::Hevc, "libx265")] {
        for max_delay in [1, 2, 4, 8, 12] {
            for bf in [0, 3] {
                for realtime in [-1, 1] {
                    let mut c = config(codec, PixelFormat::Nv12, |o| {
                        o.max_b_frames = bf;
                        o.realtime = realtime;
                    });
                    c.max_delay_frames = max_delay;
                    check_packets(&encode(&c, name), &c);
                }
            }
        }
    }
}

#[test]
fn lavc_forced_keyframe_is_a_sync_sample() {
    let c = config(Codec::H264, PixelFormat::Nv12, |o| o.gop = 250);
    let mut enc = open(&c, "libx264").unwrap();
    let mut out = Vec::new();
    for i in 0..20 {
        let p = picture(&c.geometry, i, false);
        enc.encode(
            &raw(&p, &c.geometry, i as i64, i == 0 || i == 11, None),
            &mut out,
        )
        .unwrap();
    }
    enc.flush(&mut out).unwrap();
    let keys: Vec<i64> = out.iter().filter(|p| p.keyframe).map(|p| p.pts).collect();
    assert_eq!(keys, [0, 11]);
}

#[test]
fn lavc_a53_captions_are_embedded() {
    let c = config(Codec::H264, PixelFormat::Nv12, |o| o.a53_cc = 1);
    let mut enc = open(&c, "libx264").unwrap();
    let mut out = Vec::new();
    let cc = [0xfcu8, 0x94, 0x20, 0xfc, 0x94, 0x2c];
    for i in 0..3 {
        let p = picture(&c.geometry, i, false);
        enc.encode(&raw(&p, &c.geometry, i as i64, false, Some(&cc)), &mut out)
            .unwrap();
    }
    enc.flush(&mut out).unwrap();
    assert!(out.iter().all(|p| p.data.windows(4).any(|w| w == b"GA94")));
}

#[test]
fn lavc_x265_captions_are_inserted_as_prefix_sei_where_the_decoder_finds_them() {
    let c = config(Codec::Hevc, PixelFormat::Nv12, |o| o.a53_cc = 1);
    let mut enc = open(&c, "libx265").unwrap();
    assert!(
        !enc.warnings().iter().any(|w| w.contains("a53")),
        "captions are honoured, not warned about: {:?}",
        enc.warnings()
    );
    let mut out = Vec::new();
    let cc = [0xfcu8, 0x94, 0x20, 0xfc, 0x94, 0x2c];
    for i in 0..6 {
        let p = picture(&c.geometry, i, false);
        enc.encode(&raw(&p, &c.geometry, i as i64, false, Some(&cc)), &mut out)
            .unwrap();
    }
    enc.flush(&mut out).unwrap();
    assert_eq!(out.len(), 6);
    let mut stream =
        vtremote_media::extradata::to_annexb(vtremote_media::Codec::Hevc, enc.extradata()).unwrap();
    for p in &out {
        assert!(
            p.data.windows(4).any(|w| w == b"GA94"),
            "pts {} has its SEI",
            p.pts
        );
        stream.extend_from_slice(&p.data);
    }
    let path = std::env::temp_dir().join(format!("vtremote-x265-cc-{}.hevc", std::process::id()));
    std::fs::write(&path, &stream).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_frames",
            "-show_entries",
            "frame_side_data=side_data_type",
        ])
        .arg(&path)
        .output()
        .expect("system ffprobe");
    let _ = std::fs::remove_file(&path);
    let seen = String::from_utf8_lossy(&probe.stdout)
        .matches("Closed Captions")
        .count();
    assert_eq!(
        seen, 6,
        "the reference decoder reports captions on every frame"
    );
}

#[test]
fn lavc_decoder_crops_pads_and_converts_depth() {
    let c = config(Codec::H264, PixelFormat::Nv12, |_| {});
    let e = encode(&c, "libx264");
    // Smaller: cropped. Larger and odd: padded by repeating the edge. P010: 8→10 bit.
    for (w, h, pix) in [
        (300, 200, PixelFormat::Nv12),
        (325, 247, PixelFormat::Nv12),
        (W, H, PixelFormat::P010),
    ] {
        let g = FrameGeometry::new(w, h, pix).unwrap();
        let frames = decode(Codec::H264, g, &e.extradata, &e.packets);
        assert_eq!(frames.len(), FRAMES);
        let f = &frames[5];
        assert_eq!(f.planes[0].len(), g.row_bytes(0) * g.plane_rows(0));
        assert_eq!(f.planes[1].len(), g.row_bytes(1) * g.plane_rows(1));
        if w > W {
            let row = &f.planes[0][(h as usize - 1) * w as usize..];
            assert!(row[W as usize..].iter().all(|&v| v == row[W as usize - 1]));
            let prev = &f.planes[0][(h as usize - 2) * w as usize..(h as usize - 1) * w as usize];
            assert_eq!(
                prev,
                &f.planes[0][(H as usize - 1) * w as usize..H as usize * w as usize]
            );
        }
        if pix == PixelFormat::P010 {
            let db = psnr(
                &g,
                &{
                    // Compare against the 8-bit input promoted to 10 bits.
                    let p8 = &e.inputs[5];
                    let widen = |src: &[u8]| -> Vec<u8> {
                        src.iter()
                            .flat_map(|&v| (((v as u16) << 2) << 6).to_le_bytes())
                            .collect()
                    };
                    Picture {
                        y: widen(&p8.y),
                        c: widen(&p8.c),
                        y_stride: p8.y_stride * 2,
                        c_stride: p8.c_stride * 2,
                        c_rows: p8.c_rows,
                    }
                },
                f,
            );
            assert!(db >= 35.0, "P010 output PSNR {db:.1}");
        }
    }
}

#[test]
fn lavc_decoder_reports_corrupt_input() {
    let c = config(Codec::Hevc, PixelFormat::Nv12, |_| {});
    let e = encode(&c, "libx265");
    let config = DecoderConfig {
        codec: Codec::Hevc,
        geometry: c.geometry,
        time_base: (1, 30),
        extradata: e.extradata.clone(),
        options: ConfigureOptions::defaults(),
    };
    let mut dec = LavcDecoder::open(&config, "hevc", 1).unwrap();
    // A slice NAL header followed by garbage must not panic; any error is Failed.
    let bad = [
        0u8, 0, 0, 1, 0x26, 0x01, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x03, 0xff,
    ];
    let mut out = Vec::new();
    if let Err(e) = dec.decode(
        &CompressedPacket {
            pts: 0,
            dts: 0,
            duration: 1,
            keyframe: true,
            data: &bad,
        },
        &mut out,
    ) {
        assert!(matches!(e, BackendError::Failed(_)), "{e:?}");
    }
    let bad_extradata = DecoderConfig {
        extradata: vec![1, 2, 3],
        ..config
    };
    assert!(LavcDecoder::open(&bad_extradata, "hevc", 1).is_err());
}

fn unsupported_option(r: Result<LavcEncoder, BackendError>) -> String {
    match r {
        Err(BackendError::Unsupported { option, .. }) => option,
        Err(e) => panic!("expected Unsupported, got {e:?}"),
        Ok(_) => panic!("expected Unsupported, got an encoder"),
    }
}

#[test]
fn lavc_refusals_name_the_option() {
    let c = config(Codec::H264, PixelFormat::P010, |_| {});
    assert_eq!(unsupported_option(open(&c, "libx264")), "pix_fmt");
    let c = config(Codec::H264, PixelFormat::Nv12, |o| o.profile = 999);
    assert_eq!(unsupported_option(open(&c, "libx264")), "profile");
    let c = config(Codec::Hevc, PixelFormat::Nv12, |o| o.profile = 2);
    assert_eq!(unsupported_option(open(&c, "libx265")), "profile");
    let mut c = config(Codec::H264, PixelFormat::Nv12, |_| {});
    c.geometry = FrameGeometry::new(321, 240, PixelFormat::Nv12).unwrap();
    assert_eq!(unsupported_option(open(&c, "libx264")), "size");
}

#[test]
fn lavc_unfollowable_hints_become_warnings() {
    let c = config(Codec::H264, PixelFormat::Nv12, |o| {
        o.power_efficient = 1;
        o.frames_before = true;
    });
    let enc = open(&c, "libx264").unwrap();
    let w = enc.warnings();
    assert!(w.iter().any(|w| w.starts_with("power_efficient")), "{w:?}");
    assert!(w.iter().any(|w| w.starts_with("frames_before")), "{w:?}");
    let quiet = open(&config(Codec::H264, PixelFormat::Nv12, |_| {}), "libx264").unwrap();
    assert!(quiet.warnings().is_empty(), "{:?}", quiet.warnings());
}

#[test]
fn lavc_every_option_is_accepted_by_x264_and_x265() {
    for (codec, name) in [(Codec::H264, "libx264"), (Codec::Hevc, "libx265")] {
        let c = config(codec, PixelFormat::Nv12, |o| {
            o.bitrate = 1_000_000;
            o.maxrate = 1_500_000;
            o.max_b_frames = 2;
            o.flags |= vtremote_proto::options::FLAG_CLOSED_GOP;
            o.qmin = 10;
            o.qmax = 40;
            o.level = if codec == Codec::H264 { 31 } else { 93 };
            o.realtime = 1;
            o.max_ref_frames = 2;
            o.max_slice_bytes = if codec == Codec::H264 { 1200 } else { 0 };
            o.spatial_aq = 0;
            o.color.space = 1;
            o.color.primaries = 1;
            o.color.trc = 1;
            o.color.range = 1;
            o.sar = Some((4, 3));
        });
        // x265 needs more room for two B-frames than the default budget leaves.
        let c = EncoderConfig {
            max_delay_frames: 16,
            ..c
        };
        let e = encode(&c, name);
        check_packets(&e, &c);
        let enc = open(&c, name).unwrap();
        assert!(enc.warnings().is_empty(), "{name}: {:?}", enc.warnings());
    }
}

#[test]
fn lavc_backend_probes_software_encoders() {
    let b = LavcBackend::new(&[]).unwrap();
    let report = b.probe_report();
    assert!(report.contains("libx264"), "{report}");
    assert!(report.contains("libx265"), "{report}");
    use crate::backend::Backend;
    for cap in b.capabilities() {
        assert!(cap.encode && cap.decode, "{cap:?}");
    }
    let bogus = LavcBackend::new(&[(Codec::H264, "libx265".to_string())]);
    assert!(matches!(bogus, Err(BackendError::Unsupported { .. })));
}

/// Throughput figure for the report, not a timed test:
/// `cargo test -p vtremoted --release --lib lavc_bench -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark; run explicitly in release mode"]
fn lavc_bench_1080p_x264_nv12() {
    let mut c = config(Codec::H264, PixelFormat::Nv12, |o| o.bitrate = 6_000_000);
    c.geometry = FrameGeometry::new(1920, 1080, PixelFormat::Nv12).unwrap();
    let pictures: Vec<Picture> = (0..8).map(|i| picture(&c.geometry, i, false)).collect();
    let mut enc = open(&c, "libx264").unwrap();
    let mut out = Vec::new();
    let n = 240;
    let start = std::time::Instant::now();
    for i in 0..n {
        let p = &pictures[i % pictures.len()];
        enc.encode(&raw(p, &c.geometry, i as i64, i == 0, None), &mut out)
            .unwrap();
    }
    enc.flush(&mut out).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out.len(), n);
    println!(
        "libx264 1080p nv12 (veryfast, {} threads available): {n} frames in {secs:.2} s = {:.1} fps",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        n as f64 / secs
    );
}
