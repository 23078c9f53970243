//! Writes the seed corpora under fuzz/seeds/<target>/ from valid messages built with the
//! project's own encoders. Run by scripts/fuzz-seeds, which first makes real material with
//! ffmpeg (raw NV12/P010 pictures of Big Buck Bunny, libx264/libx265 encodes); without that
//! directory the pictures are synthetic and the avcC/hvcC seeds are left out.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/seeds [media-dir]
//! ```
//!
//! Media dir files (all optional): `pic-nv12-WxH.yuv`, `pic-p010-WxH.yuv` (several pictures
//! each), `h264.mp4`, `hevc.mp4`, `h264.264`, `hevc.265` (Annex B).

use std::fs;
use std::path::{Path, PathBuf};

use vtremote_fuzz::{frame_header, media_selector, push_record, vtl_header};
use vtremote_proto::{
    encode_frame, Configure, Frame, Hello, Message, Packet, PixelFormat, PlaneCompressor,
    PlaneSource, SideData, WireCompression,
};
use vtremote_vtl::{PlaneEncoder, PlaneShape, SampleFormat};

struct Out {
    root: PathBuf,
    total: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
        self.total += bytes.len();
    }
}

/// A picture: tight planes of `pix` for `w`x`h`.
#[derive(Clone)]
struct Picture {
    w: u32,
    h: u32,
    pix: PixelFormat,
    planes: [Vec<u8>; 2],
}

impl Picture {
    fn from_raw(w: u32, h: u32, pix: PixelFormat, raw: &[u8]) -> Picture {
        let y = pix.row_bytes(0, w) * pix.plane_rows(0, h);
        let c = pix.row_bytes(1, w) * pix.plane_rows(1, h);
        assert_eq!(raw.len(), y + c, "{w}x{h} {pix}");
        Picture {
            w,
            h,
            pix,
            planes: [raw[..y].to_vec(), raw[y..].to_vec()],
        }
    }

    /// A smooth gradient with a little noise, moving with `t`.
    fn synthetic(w: u32, h: u32, pix: PixelFormat, t: u32) -> Picture {
        let mut x = 0x9E37_79B9u32.wrapping_mul(t + 1);
        let mut raw = Vec::new();
        for p in 0..2 {
            let (rb, rows) = (pix.row_bytes(p, w), pix.plane_rows(p, h));
            let samples = rb / pix.bytes_per_sample();
            for r in 0..rows {
                for c in 0..samples {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let v = (c as u32 * 3 + r as u32 * 2 + t * 4 + (x & 7)) & 0xFF;
                    match pix {
                        PixelFormat::Nv12 => raw.push(v as u8),
                        PixelFormat::P010 => {
                            raw.extend_from_slice(&((v << 2 | 1) << 6).to_le_bytes()[..2])
                        }
                    }
                }
            }
        }
        Picture::from_raw(w, h, pix, &raw)
    }

    fn sources(&self) -> Vec<PlaneSource<'_>> {
        (0..2)
            .map(|p| PlaneSource {
                data: &self.planes[p],
                stride: self.pix.row_bytes(p, self.w),
                row_bytes: self.pix.row_bytes(p, self.w),
                rows: self.pix.plane_rows(p, self.h),
            })
            .collect()
    }

    fn vtl_shape(&self, plane: usize) -> PlaneShape {
        let format = match self.pix {
            PixelFormat::Nv12 => SampleFormat::U8,
            PixelFormat::P010 => SampleFormat::P010,
        };
        let channels = plane + 1;
        PlaneShape {
            width: self.pix.row_bytes(plane, self.w) / (channels * format.bytes()),
            rows: self.pix.plane_rows(plane, self.h),
            channels,
            format,
        }
    }
}

/// Pictures of one geometry: real ones from the media dir when present, else synthetic.
fn pictures(media: Option<&Path>, w: u32, h: u32, pix: PixelFormat, n: usize) -> Vec<Picture> {
    let name = format!("pic-{}-{w}x{h}.yuv", pix.name());
    if let Some(raw) = media.and_then(|d| fs::read(d.join(name)).ok()) {
        let size = pix.frame_bytes(w, h);
        let pics: Vec<Picture> = raw
            .chunks_exact(size)
            .take(n)
            .map(|c| Picture::from_raw(w, h, pix, c))
            .collect();
        if pics.len() == n {
            return pics;
        }
    }
    (0..n as u32)
        .map(|t| Picture::synthetic(w, h, pix, t))
        .collect()
}

/// FRAME messages (header included) of `pics`, compressed with `kind`; the first restarts.
fn frames(kind: WireCompression, pics: &[Picture], captions: bool) -> Vec<Vec<u8>> {
    let mut comp = PlaneCompressor::new(kind, pics[0].pix).unwrap();
    let mut scratch = Vec::new();
    pics.iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = Vec::new();
            let side = if captions && i == 1 {
                vec![SideData {
                    ty: SideData::A53_CC,
                    data: vec![0xFC, 0x94, 0x2C, 0xFC, 0x80, 0x80],
                }]
            } else {
                Vec::new()
            };
            let flags = if i == 0 {
                Frame::FLAG_FORCE_KEYFRAME
            } else {
                0
            };
            encode_frame(
                &mut out,
                i as i64 * 1000,
                1000,
                flags,
                &p.sources(),
                &side,
                &mut comp,
                &mut scratch,
            )
            .unwrap();
            out
        })
        .collect()
}

fn msg(m: Message) -> Vec<u8> {
    m.to_bytes().unwrap()
}

fn hello(codec: &str) -> Vec<u8> {
    msg(Message::Hello(Hello {
        token: "fuzz-token".into(),
        codec: codec.into(),
        client_name: "vtremote-fuzz".into(),
        client_build: "seed".into(),
    }))
}

fn configure(pic: &Picture, options: &[(&str, &str)], extradata: &[u8]) -> Vec<u8> {
    msg(Message::Configure(Configure {
        width: pic.w,
        height: pic.h,
        pix_fmt: pic.pix.wire_code(),
        time_base: (1, 25),
        framerate: (25, 1),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        extradata: extradata.to_vec(),
    }))
}

/// The body of the first `fourcc` box in an MP4 file (moov is small in these encodes).
fn find_box(file: &[u8], fourcc: &[u8; 4]) -> Option<Vec<u8>> {
    let at = file.windows(4).position(|w| w == fourcc)?;
    let start = at.checked_sub(4)?;
    let size = u32::from_be_bytes(file[start..at].try_into().unwrap()) as usize;
    file.get(start..start + size).map(<[u8]>::to_vec)
}

/// The leading NAL units of an Annex B stream, cut at a NAL boundary near `max` bytes.
fn annexb_head(stream: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in vtremote_media::annexb::nal_units(stream) {
        let room = max.saturating_sub(out.len() + 4);
        if room < 16 {
            break;
        }
        // A cut slice still has its header, which is all these parsers read of it.
        vtremote_media::annexb::write_annexb(&mut out, [&nal[..nal.len().min(room)]]);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(args.first().map_or("fuzz/seeds", String::as_str));
    let media = args.get(1).map(PathBuf::from);
    let media = media.as_deref();
    let _ = fs::remove_dir_all(&root);
    let mut out = Out { root, total: 0 };
    let read = |name: &str| media.and_then(|d| fs::read(d.join(name)).ok());

    // --- extradata and access units from real encodes ---------------------------------
    let mp4_264 = read("h264.mp4");
    let mp4_265 = read("hevc.mp4");
    let avcc_box = mp4_264.as_deref().and_then(|f| find_box(f, b"avcC"));
    let hvcc_box = mp4_265.as_deref().and_then(|f| find_box(f, b"hvcC"));
    let es_264 = read("h264.264").unwrap_or_default();
    let es_265 = read("hevc.265").unwrap_or_default();
    if let Some(b) = &avcc_box {
        out.put("media_avcc", "bbb-avcC-box", b);
        out.put("media_avcc", "bbb-avcC-body", &b[8..]);
        out.put("media_hvcc", "bbb-avcC-box", b);
    }
    if let Some(b) = &hvcc_box {
        out.put("media_hvcc", "x265-hvcC-box", b);
        out.put("media_hvcc", "x265-hvcC-body", &b[8..]);
        out.put("media_avcc", "x265-hvcC-box", b);
    }
    let ps_264 = vtremote_media::avcc::annexb_to_record(&es_264).ok();
    let ps_265 = vtremote_media::hvcc::annexb_to_record(&es_265).ok();
    if let Some(r) = &ps_264 {
        out.put("media_avcc", "x264-from-annexb", r);
    }
    if let Some(r) = &ps_265 {
        out.put("media_hvcc", "x265-from-annexb", r);
    }
    for (codec_bit, es, name) in [(0u8, &es_264, "h264"), (1, &es_265, "hevc")] {
        if es.is_empty() {
            continue;
        }
        // Selector: codec, then NAL length size 4 (bits 1-2 = 2) and 2 (bits 1-2 = 1).
        for (nls_bits, cut) in [(2u8, 3000), (1, 600)] {
            let sel = codec_bit | nls_bits << 1;
            assert_eq!(media_selector(sel).0.wire_name(), name);
            let mut s = vec![sel];
            s.extend_from_slice(&annexb_head(es, cut));
            out.put("media_annexb", &format!("{name}-au-{cut}"), &s);
        }
    }
    // A 3-byte start code stream and captions-shaped bytes.
    out.put(
        "media_annexb",
        "short-start-codes",
        &[
            4, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x65, 0x88, 0x80,
        ],
    );

    // --- CONFIGURE options ------------------------------------------------------------
    let option_sets: [&[(&str, &str)]; 4] = [
        &[
            ("mode", "encode"),
            ("wire_compression", "1"),
            ("bitrate", "2000000"),
            ("gop", "50"),
            ("max_b_frames", "2"),
            ("flags", "4194304"),
            ("profile", "100"),
            ("level", "41"),
            ("realtime", "1"),
            ("color_range", "1"),
            ("colorspace", "1"),
            ("sar_num", "1"),
            ("sar_den", "1"),
            ("vtr_inflight", "16"),
            ("vtr_bufsize", "4000000"),
        ],
        &[
            ("mode", "decode"),
            ("wire_compression", "3"),
            ("vtr_skip_notices", "1"),
            ("vtr_inflight", "8"),
        ],
        &[
            ("mode", "encode"),
            ("wire_compression", "2"),
            ("flags", "2"),
            ("global_quality", "2360"),
            ("qmin", "10"),
            ("qmax", "40"),
            ("entropy", "2"),
            ("allow_sw", "1"),
            ("prio_speed", "0"),
            ("spatial_aq", "1"),
            ("max_ref_frames", "3"),
            ("max_slice_bytes", "1200"),
            ("constant_bit_rate", "0"),
            ("alpha_quality", "0.5"),
            ("a53_cc", "1"),
            ("frames_before", "1"),
            ("frames_after", "0"),
            ("power_efficient", "1"),
            ("color_primaries", "9"),
            ("color_trc", "16"),
            ("maxrate", "3000000"),
            ("require_sw", "0"),
        ],
        &[
            ("wire_compression", "zstd"),
            ("bitrate", "1e6"),
            ("unknown", "x"),
        ],
    ];
    for (i, set) in option_sets.iter().enumerate() {
        let text: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.put(
            "configure_options",
            &format!("set{i}"),
            text.join("\n").as_bytes(),
        );
    }

    // --- FRAME and sessions -------------------------------------------------------------
    let geometries = [(64u32, 36u32), (35, 21)];
    for pix in [PixelFormat::Nv12, PixelFormat::P010] {
        for (gi, &(w, h)) in geometries.iter().enumerate() {
            let pics = pictures(media, w, h, pix, 3);
            for kind in WireCompression::ALL {
                let fr = frames(kind, &pics, gi == 0);
                let mut seed = frame_header(kind, pix, w, h);
                for f in &fr {
                    push_record(&mut seed, &f[12..]);
                }
                out.put("frame_unpack", &format!("{kind}-{pix}-{w}x{h}"), &seed);

                // A whole encode session: HELLO, CONFIGURE, FRAMEs, FLUSH (one geometry
                // per compression to keep the corpus small).
                if gi == 0 {
                    let mut s = hello("h264");
                    let code = kind.code().to_string();
                    s.extend(configure(
                        &pics[0],
                        &[
                            ("mode", "encode"),
                            ("wire_compression", &code),
                            ("bitrate", "500000"),
                        ],
                        avcc_box.as_deref().unwrap_or_default(),
                    ));
                    for f in &fr {
                        s.extend_from_slice(f);
                    }
                    s.extend(msg(Message::Flush));
                    out.put("proto_session", &format!("encode-{kind}-{pix}"), &s);
                }
            }

            // VTL pictures of both planes, restart then inter.
            for plane in 0..2 {
                let shape = pics[0].vtl_shape(plane);
                let mut enc = PlaneEncoder::new(shape);
                let mut seed = vtl_header(shape, 0);
                let mut rt = vtl_header(shape, if pix == PixelFormat::P010 { 0x80 } else { 0 });
                for (i, p) in pics.iter().enumerate() {
                    let mut wire = Vec::new();
                    enc.encode(&p.planes[plane], i == 0, &mut wire).unwrap();
                    push_record(&mut seed, &wire);
                    let mut rec = vec![u8::from(i == 0)];
                    rec.extend_from_slice(&p.planes[plane]);
                    push_record(&mut rt, &rec);
                }
                let tag = format!("{pix}-{w}x{h}-plane{plane}");
                out.put("vtl_decode", &tag, &seed);
                if gi == 1 {
                    out.put("vtl_roundtrip", &tag, &rt);
                }
            }
        }
    }

    // A decode session: HELLO, CONFIGURE with Annex B/hvcC extradata, PACKETs, FLUSH.
    for (codec, es, extradata) in [
        ("h264", &es_264, avcc_box.clone()),
        ("hevc", &es_265, hvcc_box.clone()),
    ] {
        let pic = Picture::synthetic(64, 36, PixelFormat::Nv12, 0);
        let mut s = hello(codec);
        s.extend(configure(
            &pic,
            &[
                ("mode", "decode"),
                ("wire_compression", "0"),
                ("vtr_skip_notices", "1"),
            ],
            extradata.as_deref().unwrap_or_default(),
        ));
        let au = annexb_head(es, 1500);
        for i in 0..2 {
            s.extend(msg(Message::Packet(Packet {
                pts: i,
                dts: i,
                duration: 1,
                flags: u32::from(i == 0),
                data: au.clone(),
            })));
        }
        s.extend(msg(Message::Ping));
        s.extend(msg(Message::Skipped(2)));
        s.extend(msg(Message::Flush));
        s.extend(msg(Message::Done));
        out.put("proto_session", &format!("decode-{codec}"), &s);
    }

    eprintln!(
        "gen_seeds: {} bytes of seeds under {}{}",
        out.total,
        out.root.display(),
        if media.is_none() {
            " (synthetic pictures only)"
        } else {
            ""
        }
    );
}
