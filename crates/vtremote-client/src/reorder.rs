//! Restores display order for servers that return decoded pictures in decode order.
//!
//! The original Swift daemon decodes without temporal processing, so B-frame streams come
//! back out of order (spec §5.3, §12.8). Pictures carry their presentation timestamps, so
//! holding as many as the stream can reorder and always releasing the earliest puts them
//! back in display order. Our own daemon already sends display order and skips this.

use std::collections::BTreeMap;

use vtremote_media::Codec;

/// Held pictures when the stream does not say how deep it reorders: the H.264/HEVC
/// maximum DPB size, so any conforming stream comes out right.
pub const UNKNOWN_DEPTH: usize = 16;

pub(crate) struct Reorder<T> {
    depth: usize,
    held: BTreeMap<(i64, u64), T>,
    arrivals: u64,
}

impl<T> Reorder<T> {
    pub fn new(depth: usize) -> Self {
        Reorder {
            depth,
            held: BTreeMap::new(),
            arrivals: 0,
        }
    }

    pub fn push(&mut self, pts: i64, item: T) {
        // Arrival order breaks pts ties, so equal timestamps keep their order.
        self.held.insert((pts, self.arrivals), item);
        self.arrivals += 1;
    }

    /// The earliest picture once more than `depth` are held: nothing later can precede it.
    pub fn ready(&mut self) -> Option<T> {
        if self.held.len() > self.depth {
            self.pop_earliest()
        } else {
            None
        }
    }

    /// At end of stream everything held is released, earliest first.
    pub fn pop_earliest(&mut self) -> Option<T> {
        self.held.pop_first().map(|(_, item)| item)
    }
}

/// How many pictures the stream described by `extradata` may reorder.
pub(crate) fn reorder_depth(codec: Codec, extradata: &[u8]) -> usize {
    match vtremote_media::stream_info_from_extradata(codec, extradata) {
        // H.264 Baseline (and Constrained Baseline) has no B-frames.
        Ok(info) if codec == Codec::H264 && info.profile_idc == 66 => 0,
        Ok(info) => info
            .max_num_reorder_frames
            .map_or(UNKNOWN_DEPTH, |n| (n as usize).min(UNKNOWN_DEPTH)),
        Err(_) => UNKNOWN_DEPTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_order_comes_out_in_display_order() {
        // x264 -bf 2 with b-pyramid: decode order I0 P3 B1 B2 P6 B4 B5.
        let mut r = Reorder::new(2);
        let mut out = Vec::new();
        for pts in [0, 3, 1, 2, 6, 4, 5] {
            r.push(pts, pts);
            while let Some(p) = r.ready() {
                out.push(p);
            }
        }
        while let Some(p) = r.pop_earliest() {
            out.push(p);
        }
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn depth_zero_passes_straight_through() {
        let mut r = Reorder::new(0);
        r.push(5, "a");
        assert_eq!(r.ready(), Some("a"));
        assert_eq!(r.ready(), None);
    }

    #[test]
    fn depth_comes_from_the_sps() {
        let avcc = include_bytes!("../../vtremote-media/tests/fixtures/h264_318x238.avcC.box");
        let d = reorder_depth(Codec::H264, &avcc[8..]);
        assert!(d <= UNKNOWN_DEPTH);
        assert_eq!(reorder_depth(Codec::H264, b"not extradata"), UNKNOWN_DEPTH);
        let hvcc = include_bytes!("../../vtremote-media/tests/fixtures/hevc_320x240_main10.hvcC");
        assert!(
            reorder_depth(Codec::Hevc, hvcc) <= 4,
            "HEVC SPS always states its depth"
        );
    }
}
