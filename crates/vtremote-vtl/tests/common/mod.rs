//! Plane generators shared by the integration tests.
#![allow(dead_code)]

use proptest::prelude::*;
use vtremote_vtl::{PlaneShape, SampleFormat};

/// How one picture of a test sequence is made.
#[derive(Debug, Clone)]
pub enum Kind {
    Noise(u64),
    Gradient {
        dx: i32,
        dy: i32,
        base: i32,
    },
    Flat(u16),
    /// The previous picture again (SKIP everywhere).
    Repeat,
    /// The previous picture with a few samples changed (SKIP/INTER/INTRA mix).
    Touch(u64, usize),
    /// Smooth content plus small noise (camera-like).
    Grain(u64, u16),
}

pub fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        any::<u64>().prop_map(Kind::Noise),
        (-8i32..8, -8i32..8, 0i32..1024).prop_map(|(dx, dy, base)| Kind::Gradient { dx, dy, base }),
        any::<u16>().prop_map(Kind::Flat),
        Just(Kind::Repeat),
        (any::<u64>(), 1usize..20).prop_map(|(s, n)| Kind::Touch(s, n)),
        (any::<u64>(), 1u16..40).prop_map(|(s, a)| Kind::Grain(s, a)),
    ]
}

pub fn shape() -> impl Strategy<Value = PlaneShape> {
    (
        1usize..70,
        1usize..70,
        1usize..=2,
        prop::sample::select(vec![SampleFormat::U8, SampleFormat::P010]),
    )
        .prop_map(|(width, rows, channels, format)| PlaneShape {
            width,
            rows,
            channels,
            format,
        })
}

/// xorshift: deterministic noise without another dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Makes a picture: samples as values in 0..max (max = 256 or 1024 for P010), then stored.
/// `dirty`: P010 samples get non-zero low bits (the byte-mode fallback).
pub fn picture(shape: PlaneShape, kind: &Kind, prev: Option<&[u8]>, dirty: bool) -> Vec<u8> {
    let n = shape.width * shape.channels * shape.rows;
    let b = shape.format.bytes();
    let max: i32 = if b == 2 { 1024 } else { 256 };
    let store = |vals: Vec<i32>, rng: &mut Rng| -> Vec<u8> {
        let mut out = Vec::with_capacity(n * b);
        for v in vals {
            let v = v.rem_euclid(max) as u16;
            if b == 1 {
                out.push(v as u8);
            } else {
                let low = if dirty { (rng.next() & 63) as u16 } else { 0 };
                out.extend_from_slice(&((v << 6) | low).to_le_bytes());
            }
        }
        out
    };
    let mut rng = Rng::new(7);
    let row = (shape.width * shape.channels).max(1);
    match (kind, prev) {
        (Kind::Repeat, Some(p)) => p.to_vec(),
        (Kind::Touch(seed, count), Some(p)) => {
            let mut out = p.to_vec();
            let mut r = Rng::new(*seed);
            for _ in 0..*count * (n > 0) as usize {
                let i = (r.next() as usize % n) * b;
                out[i + b - 1] ^= (r.next() as u8) | 0x80;
            }
            out
        }
        (Kind::Noise(seed), _) => {
            let mut r = Rng::new(*seed);
            let v = (0..n).map(|_| r.next() as i32).collect();
            store(v, &mut rng)
        }
        (Kind::Gradient { dx, dy, base }, _) => {
            let v = (0..n)
                .map(|i| base + dx * ((i % row) / shape.channels) as i32 + dy * (i / row) as i32)
                .collect();
            store(v, &mut rng)
        }
        (Kind::Grain(seed, amp), _) => {
            let mut r = Rng::new(*seed);
            let v = (0..n)
                .map(|i| {
                    let x = ((i % row) / shape.channels) as i32;
                    let y = (i / row) as i32;
                    max / 3 + (x * 3 + y * 2) % (max / 2) + (r.next() % (*amp as u64 + 1)) as i32
                })
                .collect();
            store(v, &mut rng)
        }
        (Kind::Flat(_), _) | (Kind::Repeat | Kind::Touch(..), None) => {
            let v = match kind {
                Kind::Flat(v) => *v as i32,
                _ => 0,
            };
            store(vec![v; n], &mut rng)
        }
    }
}
