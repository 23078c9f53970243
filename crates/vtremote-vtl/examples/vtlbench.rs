//! Side-by-side benchmark of VTL against zstd level 1 and LZ4 on raw NV12/P010 files, one
//! picture plane at a time as the wire codes them.
//!
//! cargo run --release -p vtremote-vtl --example vtlbench -- \
//!     --size 1920x1080 --pix-fmt nv12 -i clip.yuv [--frames N] [--threads N]
//!     [--isa scalar|sse2|avx2] [--restart-every N] [--modes vtl,zstd,lz4]
//!
//! Prints per mode: ratio (raw bytes / wire bytes), median compress and decompress ms per
//! frame (all planes), and checks every frame decodes bit-exactly. `--repeat R` runs the
//! whole sequence R times with fresh coders and keeps each frame's fastest time: on a shared
//! machine that filters out the frames during which another process held the core.

use std::time::Instant;
use vtremote_vtl::{Isa, PlaneDecoder, PlaneEncoder, PlaneShape, SampleFormat};

struct Args {
    width: usize,
    height: usize,
    p010: bool,
    input: String,
    frames: usize,
    threads: usize,
    isa: Option<Isa>,
    restart_every: usize,
    modes: Vec<String>,
    repeat: usize,
}

fn parse() -> Args {
    let mut a = Args {
        width: 0,
        height: 0,
        p010: false,
        input: String::new(),
        frames: usize::MAX,
        threads: 1,
        isa: None,
        restart_every: 0,
        modes: vec!["vtl".into(), "zstd".into(), "lz4".into()],
        repeat: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--size" => {
                let s = v();
                let (w, h) = s.split_once('x').expect("--size WxH");
                a.width = w.parse().expect("width");
                a.height = h.parse().expect("height");
            }
            "--pix-fmt" => a.p010 = matches!(v().as_str(), "p010" | "p010le"),
            "-i" => a.input = v(),
            "--frames" => a.frames = v().parse().expect("frames"),
            "--threads" => a.threads = v().parse().expect("threads"),
            "--repeat" => a.repeat = v().parse().expect("repeat"),
            "--restart-every" => a.restart_every = v().parse().expect("restart-every"),
            "--modes" => a.modes = v().split(',').map(String::from).collect(),
            "--isa" => {
                a.isa = Some(match v().as_str() {
                    "scalar" => Isa::Scalar,
                    "sse2" => Isa::Sse2,
                    "avx2" => Isa::Avx2,
                    o => panic!("unknown isa {o}"),
                })
            }
            o => panic!("unknown argument {o}"),
        }
    }
    assert!(a.width > 0 && !a.input.is_empty(), "need --size and -i");
    a
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let a = parse();
    let fmt = if a.p010 {
        SampleFormat::P010
    } else {
        SampleFormat::U8
    };
    let shapes = [
        PlaneShape {
            width: a.width,
            rows: a.height,
            channels: 1,
            format: fmt,
        },
        PlaneShape {
            width: a.width / 2,
            rows: a.height / 2,
            channels: 2,
            format: fmt,
        },
    ];
    let frame_bytes: usize = shapes.iter().map(|s| s.bytes()).sum();
    let data = std::fs::read(&a.input).expect("read input");
    let frames: Vec<&[u8]> = data.chunks_exact(frame_bytes).take(a.frames).collect();
    println!(
        "{} {}x{} {} frames={} threads={} isa={:?}",
        a.input,
        a.width,
        a.height,
        if a.p010 { "p010" } else { "nv12" },
        frames.len(),
        a.threads,
        a.isa.unwrap_or(Isa::detect())
    );
    println!(
        "{:<6} {:>8} {:>9} {:>9} {:>12}",
        "mode", "ratio", "comp ms", "dec ms", "wire bytes"
    );
    // Every mode runs on every frame before the next frame: load from other processes on
    // this shared machine then hits all modes alike, and the medians stay comparable.
    struct ModeState {
        name: String,
        encs: Vec<PlaneEncoder>,
        decs: Vec<PlaneDecoder>,
    }
    let nm = a.modes.len();
    let mut enc_best = vec![vec![f64::INFINITY; frames.len()]; nm];
    let mut dec_best = vec![vec![f64::INFINITY; frames.len()]; nm];
    let mut plane_wire = vec![[0usize; 2]; nm];
    for rep in 0..a.repeat {
        let mut states: Vec<ModeState> = a
            .modes
            .iter()
            .map(|m| {
                let mut encs: Vec<PlaneEncoder> =
                    shapes.iter().map(|&s| PlaneEncoder::new(s)).collect();
                let mut decs: Vec<PlaneDecoder> =
                    shapes.iter().map(|&s| PlaneDecoder::new(s)).collect();
                for e in &mut encs {
                    e.set_threads(a.threads);
                    if let Some(i) = a.isa {
                        assert!(e.set_isa(i), "CPU lacks {i:?}");
                    }
                }
                for d in &mut decs {
                    d.set_threads(a.threads);
                    if let Some(i) = a.isa {
                        assert!(d.set_isa(i));
                    }
                }
                ModeState {
                    name: m.clone(),
                    encs,
                    decs,
                }
            })
            .collect();
        let mut zc = zstd::bulk::Compressor::new(1).expect("zstd");
        let mut zd = zstd::bulk::Decompressor::new().expect("zstd");
        let mut wires: Vec<Vec<u8>> = vec![Vec::new(); 2];
        let mut outs: Vec<Vec<u8>> = shapes.iter().map(|s| vec![0u8; s.bytes()]).collect();
        for (fi, f) in frames.iter().enumerate() {
            let planes = [&f[..shapes[0].bytes()], &f[shapes[0].bytes()..]];
            let restart = fi == 0 || (a.restart_every > 0 && fi % a.restart_every == 0);
            for (mi, st) in states.iter_mut().enumerate() {
                let t0 = Instant::now();
                for p in 0..2 {
                    wires[p].clear();
                    match st.name.as_str() {
                        "vtl" => {
                            st.encs[p]
                                .encode(planes[p], restart, &mut wires[p])
                                .expect("encode");
                        }
                        "zstd" => {
                            wires[p].resize(zstd::zstd_safe::compress_bound(planes[p].len()), 0);
                            let n = zc
                                .compress_to_buffer(planes[p], &mut wires[p])
                                .expect("zstd");
                            wires[p].truncate(n);
                        }
                        "lz4" => {
                            wires[p].resize(
                                lz4_flex::block::get_maximum_output_size(planes[p].len()),
                                0,
                            );
                            let n = lz4_flex::block::compress_into(planes[p], &mut wires[p])
                                .expect("lz4");
                            wires[p].truncate(n);
                        }
                        o => panic!("unknown mode {o}"),
                    }
                }
                enc_best[mi][fi] = enc_best[mi][fi].min(t0.elapsed().as_secs_f64() * 1e3);
                let t1 = Instant::now();
                for p in 0..2 {
                    match st.name.as_str() {
                        "vtl" => st.decs[p].decode(&wires[p], &mut outs[p]).expect("decode"),
                        "zstd" => {
                            let n = zd
                                .decompress_to_buffer(&wires[p], &mut outs[p])
                                .expect("zstd");
                            assert_eq!(n, outs[p].len());
                        }
                        _ => {
                            let n = lz4_flex::block::decompress_into(&wires[p], &mut outs[p])
                                .expect("lz4");
                            assert_eq!(n, outs[p].len());
                        }
                    }
                }
                dec_best[mi][fi] = dec_best[mi][fi].min(t1.elapsed().as_secs_f64() * 1e3);

                for p in 0..2 {
                    assert!(
                        outs[p] == planes[p],
                        "{} frame {fi} plane {p}: not bit-exact",
                        st.name
                    );
                    if rep == 0 {
                        plane_wire[mi][p] += wires[p].len();
                    }
                }
            }
        }
    }
    let n = frames.len();
    for mi in 0..nm {
        let wire_total = plane_wire[mi][0] + plane_wire[mi][1];
        println!(
            "{:<6} {:>8.3} {:>9.3} {:>9.3} {:>12}   (luma {:.3}, chroma {:.3})",
            a.modes[mi],
            (frame_bytes * n) as f64 / wire_total as f64,
            median(&mut enc_best[mi]),
            median(&mut dec_best[mi]),
            wire_total,
            (shapes[0].bytes() * n) as f64 / plane_wire[mi][0] as f64,
            (shapes[1].bytes() * n) as f64 / plane_wire[mi][1] as f64,
        );
    }
}
