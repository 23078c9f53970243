//! Decode timestamps for encoder output.
//!
//! Encoders emit packets in decode order. Muxers and decoders need a DTS sequence that is
//! **strictly increasing** and **never above the PTS** of the same packet. Raw encoder DTS
//! do not always satisfy that: VideoToolbox starts its decode timeline at the first input
//! PTS, so with B-frames a B picture gets DTS > PTS (spec videotoolbox.md §7), and an encoder
//! without reordering may give no DTS at all. The original daemon (vtremote-v1 §7) dropped
//! packets with a repeated PTS and clamped each DTS locally, which loses pictures and can
//! still emit DTS > PTS or a non-increasing DTS.
//!
//! This tracker never drops a packet and does not need the encoder's DTS. The rule, for a
//! stream whose reordering depth (H.264 `max_num_reorder_frames`, HEVC
//! `sps_max_num_reorder_pics`, at most the encoder's B-frame count) is at most `D`:
//!
//! - packet `k` (decode order, from 0) gets `dts = s(k − D)`, the `(k − D)`-th smallest PTS
//!   of the stream (0-based);
//! - the first `D` packets get `s(0) − (D − k) · Δ`, extrapolating one frame duration `Δ`
//!   (given by the caller, or else the smallest gap between the first PTS values) per step.
//!
//! Why this is valid: with depth ≤ D, at most D earlier packets have a larger PTS than packet
//! `k`, so at least `k − D` of its predecessors have a smaller or equal one and
//! `pts(k) ≥ s(k − D)`. No later packet can have a PTS below `s(k − D)` either (it would be
//! preceded by more than D pictures displayed after it), so `s(k − D)` is already known when
//! packet `k` arrives: after the first `D + 1` packets every packet is released as soon as it
//! is pushed. Sorted PTS values make the sequence non-decreasing; it increases strictly
//! unless two packets share a PTS. This is the timeline x264 writes itself: with its own
//! depth and frame duration the result equals x264's DTS exactly (tested).
//!
//! If the stream breaks the promise (deeper reordering, repeated PTS), strict increase still
//! wins: a DTS that would not increase becomes `previous + 1`. Decoders and every muxer reject
//! a repeated or decreasing DTS outright, while a DTS above PTS on a single packet only costs
//! that packet's presentation time; such packets are counted in
//! [`DtsTracker::late_violations`] so the backend can log them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Deepest reordering we buffer for: an H.264/HEVC DPB holds at most 16 pictures
/// (H.264 Annex A.3.1, H.265 A.4.2), so no conforming stream reorders further.
pub const MAX_REORDER_DEPTH: usize = 16;

/// A packet with its final timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedPacket<T> {
    pub pts: i64,
    pub dts: i64,
    pub payload: T,
}

/// Assigns DTS to encoder output in decode order; see the module docs for the rule.
#[derive(Debug)]
pub struct DtsTracker<T> {
    depth: usize,
    frame_duration: Option<i64>,
    /// The first `depth + 1` packets, held until the smallest PTS of the stream is known.
    startup: Vec<(i64, T)>,
    started: bool,
    /// PTS values seen but not yet used as a DTS; `depth` of them once started.
    unassigned: BinaryHeap<Reverse<i64>>,
    ready: VecDeque<TimedPacket<T>>,
    last_dts: Option<i64>,
    late_violations: u64,
}

impl<T> DtsTracker<T> {
    /// `reorder_depth`: the most pictures the encoder may reorder (0 without B-frames).
    /// Values above [`MAX_REORDER_DEPTH`] are capped, which bounds what the tracker holds.
    /// A depth larger than the stream's only delays DTS further; a smaller one causes
    /// late violations.
    pub fn new(reorder_depth: usize) -> Self {
        let depth = reorder_depth.min(MAX_REORDER_DEPTH);
        DtsTracker {
            depth,
            frame_duration: None,
            startup: Vec::with_capacity(depth + 1),
            started: false,
            unassigned: BinaryHeap::with_capacity(depth + 1),
            ready: VecDeque::with_capacity(depth + 1),
            last_dts: None,
            late_violations: 0,
        }
    }

    /// The frame duration in stream ticks, used to space the first `depth` DTS values one
    /// frame apart as a muxer expects. Without it the smallest gap between the first PTS
    /// values is used; non-positive values are ignored.
    pub fn with_frame_duration(mut self, ticks: i64) -> Self {
        self.frame_duration = (ticks > 0).then_some(ticks);
        self
    }

    /// Accepts the next encoder output packet (decode order). Follow with [`pop`](Self::pop).
    pub fn push(&mut self, pts: i64, payload: T) {
        if self.started {
            self.unassigned.push(Reverse(pts));
            let smallest = self.unassigned.pop().map_or(pts, |r| r.0);
            self.emit(pts, smallest, payload);
        } else {
            self.startup.push((pts, payload));
            if self.startup.len() > self.depth {
                self.release_startup(self.depth);
            }
        }
    }

    /// The next packet whose DTS is known, if any. Call until `None` after each push.
    pub fn pop(&mut self) -> Option<TimedPacket<T>> {
        self.ready.pop_front()
    }

    /// Releases every held packet, for the end of the stream: call until `None`. A stream
    /// shorter than `depth + 1` packets is treated as reordering at most `len − 1` deep.
    /// Afterwards the tracker starts over (DTS keep increasing across the restart).
    pub fn flush(&mut self) -> Option<TimedPacket<T>> {
        if !self.startup.is_empty() {
            self.release_startup(self.startup.len() - 1);
        }
        let next = self.ready.pop_front();
        if self.ready.is_empty() {
            self.started = false;
            self.unassigned.clear();
        }
        next
    }

    /// Packets emitted with DTS > PTS because the stream broke its reordering depth or
    /// repeated a PTS. Zero for a well-behaved encoder.
    pub fn late_violations(&self) -> u64 {
        self.late_violations
    }

    /// Packets pushed but not yet returned by [`pop`](Self::pop)/[`flush`](Self::flush).
    pub fn pending(&self) -> usize {
        self.startup.len() + self.ready.len()
    }

    fn release_startup(&mut self, depth: usize) {
        let held = std::mem::take(&mut self.startup);
        let mut sorted: Vec<i64> = held.iter().map(|(pts, _)| *pts).collect();
        sorted.sort_unstable();
        let step = self.frame_duration.unwrap_or_else(|| {
            sorted
                .windows(2)
                .map(|w| w[1].saturating_sub(w[0]))
                .filter(|&gap| gap > 0)
                .min()
                .unwrap_or(1)
        });
        // The first `held − depth` sorted values become DTS now, the rest wait in the heap.
        let assigned = held.len() - depth;
        self.unassigned
            .extend(sorted[assigned..].iter().map(|&p| Reverse(p)));
        for (k, (pts, payload)) in held.into_iter().enumerate() {
            let dts = if k >= depth {
                sorted[k - depth]
            } else {
                let frames = (depth - k) as i64;
                sorted[0].saturating_sub(step.saturating_mul(frames))
            };
            self.emit(pts, dts, payload);
        }
        self.started = true;
    }

    fn emit(&mut self, pts: i64, mut dts: i64, payload: T) {
        if let Some(last) = self.last_dts {
            if dts <= last {
                dts = last.saturating_add(1);
            }
        }
        if dts > pts {
            self.late_violations += 1;
        }
        self.last_dts = Some(dts);
        self.ready.push_back(TimedPacket { pts, dts, payload });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(depth: usize, pts: &[i64]) -> (Vec<(i64, i64)>, u64) {
        let mut t = DtsTracker::new(depth);
        let mut out = Vec::new();
        for (i, &p) in pts.iter().enumerate() {
            t.push(p, i);
            while let Some(p) = t.pop() {
                out.push(p);
            }
        }
        while let Some(p) = t.flush() {
            out.push(p);
        }
        let order: Vec<usize> = out.iter().map(|p| p.payload).collect();
        assert_eq!(
            order,
            (0..pts.len()).collect::<Vec<_>>(),
            "order kept, nothing dropped"
        );
        (
            out.iter().map(|p| (p.pts, p.dts)).collect(),
            t.late_violations(),
        )
    }

    #[test]
    fn without_reordering_dts_equals_pts() {
        let (out, late) = run(0, &[0, 1, 2]);
        assert_eq!(out, [(0, 0), (1, 1), (2, 2)]);
        assert_eq!(late, 0);
    }

    #[test]
    fn one_b_frame_gop_matches_ffmpegs_videotoolbox_correction() {
        // I0 P3 B1 B2 P6 B4 B5, two B-frames: FFmpeg's dts_delta = pts[2] − pts[0] = 2.
        let (out, late) = run(2, &[0, 3, 1, 2, 6, 4, 5]);
        assert_eq!(late, 0);
        let dts: Vec<i64> = out.iter().map(|p| p.1).collect();
        assert_eq!(dts, [-2, -1, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn packets_are_released_immediately_after_startup() {
        let mut t = DtsTracker::new(2).with_frame_duration(10);
        t.push(0, ());
        t.push(30, ());
        assert!(t.pop().is_none());
        t.push(10, ());
        assert_eq!(t.pop().map(|p| p.dts), Some(-20));
        assert_eq!(t.pop().map(|p| p.dts), Some(-10));
        assert_eq!(t.pop().map(|p| p.dts), Some(0));
        t.push(20, ());
        assert_eq!(t.pop().map(|p| (p.pts, p.dts)), Some((20, 10)));
    }

    #[test]
    fn duplicate_pts_is_kept_with_increasing_dts() {
        let (out, late) = run(0, &[0, 0, 1]);
        assert_eq!(out, [(0, 0), (0, 1), (1, 2)]);
        // Strict increase wins; both later packets are reported.
        assert_eq!(late, 2);
    }

    #[test]
    fn flush_before_startup_completes_gives_valid_dts() {
        let (out, late) = run(4, &[0, 2, 1]);
        assert_eq!(late, 0);
        assert_eq!(out, [(0, -2), (2, -1), (1, 0)]);
    }

    #[test]
    fn depth_is_capped() {
        let t: DtsTracker<()> = DtsTracker::new(usize::MAX);
        assert_eq!(t.depth, MAX_REORDER_DEPTH);
    }
}
