//! `vtremote wire-bench`: what each wire compression costs and saves on real pictures.
//!
//! Runs the very plane compressors and decompressors the client and the daemon use
//! (`PlaneCompressor`/`PlaneDecompressor` of vtremote-proto), on one thread, over the frames
//! of a raw file, in order (VTL predicts from the previous frame as it does on the wire), and
//! checks every decompressed plane against the original. Modes run one after another over
//! the same frames held in memory, so their figures compare side by side.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vtremote_proto::{FrameGeometry, PlaneCompressor, PlaneDecompressor, WireCompression};

/// One mode's result over all frames.
pub struct ModeResult {
    pub mode: WireCompression,
    pub frames: usize,
    pub raw_bytes: u64,
    pub wire_bytes: u64,
    pub compress: Vec<Duration>,
    pub decompress: Vec<Duration>,
    pub exact: bool,
}

impl ModeResult {
    pub fn ratio(&self) -> f64 {
        self.raw_bytes as f64 / self.wire_bytes.max(1) as f64
    }

    pub fn median_ms(times: &[Duration]) -> f64 {
        let mut v: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
}

/// Reads up to `max_frames` whole frames of `geometry` from a raw file.
pub fn read_frames(
    path: &Path,
    geometry: &FrameGeometry,
    max_frames: usize,
) -> Result<Vec<Vec<u8>>> {
    let frame_bytes = geometry.tight_frame_bytes();
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let whole = data.len() / frame_bytes;
    if whole == 0 {
        bail!(
            "{} holds {} bytes, less than one {}x{} {} frame ({frame_bytes} bytes)",
            path.display(),
            data.len(),
            geometry.width,
            geometry.height,
            geometry.pix_fmt
        );
    }
    Ok(data
        .chunks_exact(frame_bytes)
        .take(max_frames.min(whole))
        .map(<[u8]>::to_vec)
        .collect())
}

/// Compresses and decompresses every frame with `mode` and checks the round trip.
pub fn run_mode(
    mode: WireCompression,
    geometry: &FrameGeometry,
    frames: &[Vec<u8>],
) -> Result<ModeResult> {
    let mut compressor = PlaneCompressor::new(mode, geometry.pix_fmt)?;
    let mut decompressor = PlaneDecompressor::new(mode, geometry.pix_fmt)?;
    let sizes = [0, 1].map(|p| geometry.row_bytes(p) * geometry.plane_rows(p));
    let mut result = ModeResult {
        mode,
        frames: frames.len(),
        raw_bytes: 0,
        wire_bytes: 0,
        compress: Vec::with_capacity(frames.len()),
        decompress: Vec::with_capacity(frames.len()),
        exact: true,
    };
    let mut wire = [Vec::new(), Vec::new()];
    let mut out = sizes.map(|n| vec![0u8; n]);
    for (n, frame) in frames.iter().enumerate() {
        let planes = [&frame[..sizes[0]], &frame[sizes[0]..sizes[0] + sizes[1]]];
        let t0 = Instant::now();
        for p in 0..2 {
            wire[p].clear();
            compressor
                .compress_plane(p, planes[p], geometry.row_bytes(p), n == 0, &mut wire[p])
                .with_context(|| format!("{mode}: compressing plane {p} of frame {n}"))?;
        }
        result.compress.push(t0.elapsed());
        let t0 = Instant::now();
        for p in 0..2 {
            decompressor
                .decompress(p, geometry.row_bytes(p), &wire[p], &mut out[p])
                .with_context(|| format!("{mode}: decompressing plane {p} of frame {n}"))?;
        }
        result.decompress.push(t0.elapsed());
        result.exact &= out[0] == planes[0] && out[1] == planes[1];
        result.raw_bytes += frame.len() as u64;
        result.wire_bytes += (wire[0].len() + wire[1].len()) as u64;
    }
    Ok(result)
}

/// The table `wire-bench` prints.
pub fn table(geometry: &FrameGeometry, results: &[ModeResult]) -> String {
    let mut s = format!(
        "{}x{} {}, {} frames, one thread\n\
         | mode | ratio raw/wire | compress ms/frame (median) | decompress ms/frame (median) | bit-exact |\n\
         |---|---:|---:|---:|---|\n",
        geometry.width,
        geometry.height,
        geometry.pix_fmt,
        results.first().map_or(0, |r| r.frames)
    );
    for r in results {
        s += &format!(
            "| {} | {:.2} | {:.2} | {:.2} | {} |\n",
            r.mode,
            r.ratio(),
            ModeResult::median_ms(&r.compress),
            ModeResult::median_ms(&r.decompress),
            if r.exact { "yes" } else { "NO" }
        );
    }
    s
}

/// The same as JSON (one object per mode), for scripts.
pub fn json(geometry: &FrameGeometry, results: &[ModeResult]) -> String {
    let rows: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"mode\":\"{}\",\"width\":{},\"height\":{},\"pix_fmt\":\"{}\",\"frames\":{},\
                 \"raw_bytes\":{},\"wire_bytes\":{},\"ratio\":{:.4},\"compress_ms_median\":{:.4},\
                 \"decompress_ms_median\":{:.4},\"bit_exact\":{}}}",
                r.mode,
                geometry.width,
                geometry.height,
                geometry.pix_fmt,
                r.frames,
                r.raw_bytes,
                r.wire_bytes,
                r.ratio(),
                ModeResult::median_ms(&r.compress),
                ModeResult::median_ms(&r.decompress),
                r.exact
            )
        })
        .collect();
    format!("[{}]\n", rows.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::PixelFormat;

    #[test]
    fn every_mode_round_trips_and_reports_the_raw_size() {
        let g = FrameGeometry::new(66, 38, PixelFormat::P010).unwrap();
        let frames: Vec<Vec<u8>> = (0..3)
            .map(|n| {
                (0..g.tight_frame_bytes())
                    .map(|i| {
                        if i % 2 == 0 {
                            0
                        } else {
                            ((i / 2 + n) % 251) as u8
                        }
                    })
                    .collect()
            })
            .collect();
        for mode in WireCompression::ALL {
            let r = run_mode(mode, &g, &frames).unwrap();
            assert!(r.exact, "{mode}");
            assert_eq!(r.raw_bytes, 3 * g.tight_frame_bytes() as u64);
            assert_eq!(r.compress.len(), 3);
        }
        assert!(json(&g, &[]).starts_with('['));
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(ModeResult::median_ms(&ms(&[3, 1, 2])), 2.0);
        assert_eq!(ModeResult::median_ms(&ms(&[4, 1, 2, 3])), 2.5);
    }
}
