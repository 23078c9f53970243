//! Bit-exact round trips: every shape, format, channel count, picture kind and restart
//! pattern; every kernel set and thread count decodes to the same bytes, and the encoder's
//! output does not depend on its kernel set or thread count.

mod common;

use common::{kind, picture, shape, Kind};
use proptest::prelude::*;
use vtremote_vtl::{Isa, PlaneDecoder, PlaneEncoder, PlaneShape, SampleFormat, VtlError};

/// Codes `pics` (picture, restart) with every encoder configuration, checks they agree, and
/// decodes with every decoder configuration, checking each picture bit for bit.
fn round_trip(shape: PlaneShape, pics: &[(Vec<u8>, bool)]) {
    let isas = Isa::available();
    let mut wires: Option<Vec<Vec<u8>>> = None;
    for &isa in &isas {
        for threads in [1, 3] {
            let mut enc = PlaneEncoder::new(shape);
            assert!(enc.set_isa(isa));
            enc.set_threads(threads);
            let w: Vec<Vec<u8>> = pics
                .iter()
                .map(|(p, restart)| {
                    let mut out = vec![0xAA]; // encode appends
                    let n = enc.encode(p, *restart, &mut out).unwrap();
                    assert_eq!(n, out.len() - 1);
                    out.remove(0);
                    out
                })
                .collect();
            match &wires {
                None => wires = Some(w),
                Some(first) => {
                    assert_eq!(first, &w, "encoder output differs with {isa:?}/{threads}")
                }
            }
        }
    }
    let wires = wires.unwrap();
    for &isa in &isas {
        for threads in [1, 2] {
            let mut dec = PlaneDecoder::new(shape);
            assert!(dec.set_isa(isa));
            dec.set_threads(threads);
            let mut out = vec![0u8; shape.bytes()];
            for (i, ((p, _), w)) in pics.iter().zip(&wires).enumerate() {
                dec.decode(w, &mut out)
                    .unwrap_or_else(|e| panic!("picture {i} with {isa:?}/{threads}: {e}"));
                assert!(
                    &out == p,
                    "picture {i} differs with {isa:?}/{threads} ({shape:?})"
                );
            }
        }
    }
}

fn sequence(shape: PlaneShape, kinds: &[(Kind, bool, bool)]) -> Vec<(Vec<u8>, bool)> {
    let mut prev: Option<Vec<u8>> = None;
    let mut pics = Vec::new();
    for (k, restart, dirty) in kinds {
        let p = picture(shape, k, prev.as_deref(), *dirty);
        prev = Some(p.clone());
        pics.push((p, *restart));
    }
    pics
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sequences_round_trip(
        shape in shape(),
        kinds in prop::collection::vec((kind(), any::<bool>(), prop::bool::weighted(0.2)), 1..6),
    ) {
        round_trip(shape, &sequence(shape, &kinds));
    }
}

#[test]
fn degenerate_shapes_round_trip() {
    for format in [SampleFormat::U8, SampleFormat::P010] {
        for channels in [1, 2] {
            for (width, rows) in [(1, 1), (1, 37), (37, 1), (16, 16), (17, 33), (0, 5), (5, 0)] {
                let shape = PlaneShape {
                    width,
                    rows,
                    channels,
                    format,
                };
                let kinds = [
                    (Kind::Noise(1), false, false),
                    (Kind::Touch(2, 3), false, false),
                    (Kind::Repeat, false, false),
                    (
                        Kind::Gradient {
                            dx: 3,
                            dy: -2,
                            base: 9,
                        },
                        true,
                        false,
                    ),
                    (Kind::Repeat, false, true),
                ];
                round_trip(shape, &sequence(shape, &kinds));
            }
        }
    }
}

#[test]
fn multi_slice_planes_round_trip_on_threads() {
    // 600 rows: four slices, the last one partial; a width that leaves a partial block.
    for format in [SampleFormat::U8, SampleFormat::P010] {
        for channels in [1, 2] {
            let shape = PlaneShape {
                width: 75,
                rows: 600,
                channels,
                format,
            };
            let kinds = [
                (Kind::Grain(3, 9), false, false),
                (Kind::Touch(4, 200), false, false),
                (Kind::Repeat, false, false),
                (Kind::Noise(5), false, false),
                (Kind::Grain(6, 2), true, false),
                (Kind::Touch(7, 50), false, false),
            ];
            round_trip(shape, &sequence(shape, &kinds));
        }
    }
}

#[test]
fn repeated_pictures_cost_almost_nothing() {
    let shape = PlaneShape {
        width: 640,
        rows: 360,
        channels: 1,
        format: SampleFormat::U8,
    };
    let p = picture(shape, &Kind::Grain(1, 20), None, false);
    let mut enc = PlaneEncoder::new(shape);
    let mut first = Vec::new();
    enc.encode(&p, false, &mut first).unwrap();
    let mut second = Vec::new();
    enc.encode(&p, false, &mut second).unwrap();
    assert!(
        second.len() * 100 < first.len(),
        "{} vs {}",
        second.len(),
        first.len()
    );
    let mut dec = PlaneDecoder::new(shape);
    let mut out = vec![0; shape.bytes()];
    dec.decode(&first, &mut out).unwrap();
    dec.decode(&second, &mut out).unwrap();
    assert_eq!(out, p);
}

#[test]
fn restart_pictures_decode_without_history() {
    let shape = PlaneShape {
        width: 64,
        rows: 48,
        channels: 2,
        format: SampleFormat::P010,
    };
    let a = picture(shape, &Kind::Grain(1, 5), None, false);
    let b = picture(shape, &Kind::Touch(2, 9), Some(&a), false);
    let mut enc = PlaneEncoder::new(shape);
    let (mut wa, mut wb, mut wr) = (Vec::new(), Vec::new(), Vec::new());
    enc.encode(&a, false, &mut wa).unwrap();
    enc.encode(&b, false, &mut wb).unwrap();
    enc.encode(&b, true, &mut wr).unwrap();
    // A fresh decoder (a reconnect) cannot start with the inter picture, but can with the restart.
    let mut dec = PlaneDecoder::new(shape);
    let mut out = vec![0; shape.bytes()];
    assert_eq!(dec.decode(&wb, &mut out), Err(VtlError::NoReference));
    dec.decode(&wr, &mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn wrong_buffer_sizes_are_errors() {
    let shape = PlaneShape {
        width: 8,
        rows: 8,
        channels: 1,
        format: SampleFormat::U8,
    };
    let mut enc = PlaneEncoder::new(shape);
    assert!(matches!(
        enc.encode(&[0; 63], false, &mut Vec::new()),
        Err(VtlError::WrongSize { .. })
    ));
    let mut dec = PlaneDecoder::new(shape);
    assert!(matches!(
        dec.decode(&[], &mut [0; 65]),
        Err(VtlError::WrongSize { .. })
    ));
}

#[test]
fn moving_flat_and_ramp_content_round_trips() {
    // Flat bars and a ramp that move between pictures (testsrc2-like): blocks whose
    // residuals are all zero under a spatial predictor (the zero-residual modes), next to
    // SKIP, INTER and coded blocks, on every kernel set and thread count.
    for format in [SampleFormat::U8, SampleFormat::P010] {
        for channels in [1, 2] {
            let shape = PlaneShape {
                width: 150,
                rows: 300,
                channels,
                format,
            };
            let max = if format == SampleFormat::P010 {
                1024
            } else {
                256
            };
            let row = shape.width * channels;
            let pics: Vec<(Vec<u8>, bool)> = (0..4)
                .map(|t| {
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ t as u64;
                    let bytes = (0..row * shape.rows)
                        .flat_map(|i| {
                            let (c, r) = ((i % row) / channels, i / row);
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            let v = if (r + 7 * t) % 100 < 20 {
                                (c * 3 + r + 11 * t) as i32 // moving ramp band
                            } else if (60..90).contains(&c) && (100..140).contains(&r) {
                                (rng % 50) as i32 // noise
                            } else {
                                ((c + 5 * t) / 40 * 60) as i32 // moving flat bars
                            };
                            let v = v.rem_euclid(max) as u16;
                            if format == SampleFormat::P010 {
                                (v << 6).to_le_bytes().to_vec()
                            } else {
                                vec![v as u8]
                            }
                        })
                        .collect();
                    (bytes, t == 2)
                })
                .collect();
            round_trip(shape, &pics);
        }
    }
}
