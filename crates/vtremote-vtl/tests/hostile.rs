//! The decoder is fed by the network: whatever the bytes, it returns (Ok or Err) without
//! panicking, and after an error it accepts only a restart picture.

mod common;

use common::{kind, picture, shape, Kind};
use proptest::prelude::*;
use vtremote_vtl::{PlaneDecoder, PlaneEncoder, PlaneShape, SampleFormat, VtlError};

/// A valid two-picture sequence (restart, then inter) for `shape`.
fn valid(shape: PlaneShape, k1: &Kind, k2: &Kind, dirty: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let a = picture(shape, k1, None, dirty);
    let b = picture(shape, k2, Some(&a), dirty);
    let mut enc = PlaneEncoder::new(shape);
    let (mut wa, mut wb) = (Vec::new(), Vec::new());
    enc.encode(&a, true, &mut wa).unwrap();
    enc.encode(&b, false, &mut wb).unwrap();
    (wa, wb, b)
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Extend(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Damage::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Damage::Set(i, v)),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Damage::Insert(i, v)),
        prop::collection::vec(any::<u8>(), 1..10).prop_map(Damage::Extend),
    ]
}

fn apply(w: &mut Vec<u8>, d: &Damage) {
    if w.is_empty() {
        return;
    }
    match d {
        Damage::Flip(i, b) => {
            let i = i % w.len();
            w[i] ^= 1 << b;
        }
        Damage::Set(i, v) => {
            let i = i % w.len();
            w[i] = *v;
        }
        Damage::Truncate(i) => w.truncate(i % w.len()),
        Damage::Insert(i, v) => w.insert(i % w.len(), *v),
        Damage::Extend(v) => w.extend_from_slice(v),
    }
}

/// Cases per property: many in release builds (`cargo test --release`), fewer in debug ones,
/// where each costs ~10x.
const CASES: u32 = if cfg!(debug_assertions) { 800 } else { 4000 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn random_bytes_are_rejected(shape in shape(), wire in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut dec = PlaneDecoder::new(shape);
        let mut out = vec![0u8; shape.bytes()];
        prop_assert!(dec.decode(&wire, &mut out).is_err());
    }

    #[test]
    fn damaged_pictures_never_panic(
        shape in shape(), k1 in kind(), k2 in kind(), dirty in prop::bool::weighted(0.2),
        damages in prop::collection::vec(damage(), 1..4), threads in 1usize..3, target in 0usize..2,
    ) {
        let (mut wa, mut wb, _) = valid(shape, &k1, &k2, dirty);
        let w = if target == 0 { &mut wa } else { &mut wb };
        for d in &damages {
            apply(w, d);
        }
        let mut dec = PlaneDecoder::new(shape);
        dec.set_threads(threads);
        let mut out = vec![0u8; shape.bytes()];
        let ra = dec.decode(&wa, &mut out);
        let rb = dec.decode(&wb, &mut out);
        if ra.is_err() {
            // The chain is broken: the inter picture cannot decode.
            prop_assert_eq!(rb, Err(VtlError::NoReference));
        }
    }
}

proptest! {
    // Each case decodes every prefix of two pictures: fewer cases cover it.
    #![proptest_config(ProptestConfig::with_cases(CASES / 50))]

    #[test]
    fn every_truncation_is_an_error(shape in shape(), k1 in kind(), k2 in kind()) {
        let (wa, wb, _) = valid(shape, &k1, &k2, false);
        for w in [&wa, &wb] {
            for cut in 0..w.len() {
                let mut dec = PlaneDecoder::new(shape);
                let mut out = vec![0u8; shape.bytes()];
                if std::ptr::eq(w, &wb) {
                    dec.decode(&wa, &mut out).unwrap();
                }
                prop_assert!(dec.decode(&w[..cut], &mut out).is_err(), "cut at {} of {}", cut, w.len());
            }
        }
    }
}

#[test]
fn inter_picture_after_an_error_needs_a_restart() {
    let shape = PlaneShape {
        width: 40,
        rows: 30,
        channels: 2,
        format: SampleFormat::U8,
    };
    let (wa, wb, b) = valid(shape, &Kind::Grain(1, 8), &Kind::Touch(2, 5), false);
    let mut dec = PlaneDecoder::new(shape);
    let mut out = vec![0u8; shape.bytes()];
    dec.decode(&wa, &mut out).unwrap();
    assert!(dec.decode(&wa[..wa.len() - 1], &mut out).is_err());
    assert_eq!(dec.decode(&wb, &mut out), Err(VtlError::NoReference));
    // A restart picture resumes the chain.
    dec.decode(&wa, &mut out).unwrap();
    dec.decode(&wb, &mut out).unwrap();
    assert_eq!(out, b);
}

#[test]
fn a_picture_for_another_plane_is_rejected() {
    let luma = PlaneShape {
        width: 32,
        rows: 16,
        channels: 1,
        format: SampleFormat::U8,
    };
    let chroma = PlaneShape {
        width: 16,
        rows: 8,
        channels: 2,
        format: SampleFormat::U8,
    };
    let (wa, _, _) = valid(luma, &Kind::Noise(1), &Kind::Repeat, false);
    let mut dec = PlaneDecoder::new(chroma);
    let mut out = vec![0u8; chroma.bytes()];
    assert!(matches!(
        dec.decode(&wa, &mut out),
        Err(VtlError::ShapeMismatch { .. })
    ));
}
