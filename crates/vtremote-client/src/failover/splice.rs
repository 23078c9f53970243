//! Encode failover: which pictures a new helper must encode again, and which packets may
//! reach the caller.
//!
//! A packet goes to the caller only once it completes a prefix of the input: the packets
//! released so far are exactly those of the first N pictures sent. Packets arrive in decode
//! order, so with B-frames a P picture's packet waits for the B pictures before it (one
//! mini-GOP, the encoder's own reorder delay). Whenever the helper goes away, the caller
//! therefore holds a stream that ends cleanly after picture N, and a new helper encodes
//! pictures N+1… from an IDR: every picture exactly once, in order. Held packets of the
//! dead helper are dropped; their pictures are encoded again.

use std::collections::VecDeque;

use crate::encode::OutputPacket;

/// Packets held while a picture before them is missing. Legitimate reordering holds at
/// most a mini-GOP (x264 allows 16 B-frames, VideoToolbox uses fewer); beyond this the
/// missing picture is taken as dropped by the helper, so a helper that drops one cannot
/// make us hold (and keep the raw pictures of) its whole stream.
pub(crate) const HOLD_LIMIT: usize = 24;

struct Sent<F> {
    pts: i64,
    /// Its packet is in `held`.
    answered: bool,
    frame: F,
}

pub(crate) struct Splice<F> {
    enabled: bool,
    /// Pictures sent whose packets have not reached the caller, in input order.
    sent: VecDeque<Sent<F>>,
    /// Packets received, in decode order, not yet released.
    held: VecDeque<OutputPacket>,
    ready: VecDeque<OutputPacket>,
    /// Pictures no resume needs any more, for the caller to reuse their buffers.
    finished: Vec<F>,
    last_pts_sent: Option<i64>,
    last_dts: Option<i64>,
    /// Why a resume can no longer be promised (the record then only passes packets on).
    broken: Option<String>,
    /// Parameter sets of the helper that took over, for the first packet it produces.
    headers: Option<Vec<u8>>,
    /// Its parameter sets differ from those in the container: every keyframe after the
    /// splice carries them, so that a player seeking to one can decode it.
    headers_on_keyframes: Option<Vec<u8>>,
    /// Why the packets after a splice cannot get valid timestamps.
    fault: Option<String>,
    splices: u32,
    /// Pictures taken as dropped by a helper (never answered, see `HOLD_LIMIT`).
    pub lost: u64,
    /// Packets released since the last splice: a takeover that produced none made no
    /// progress.
    pub released_since_splice: u64,
}

impl<F> Splice<F> {
    /// `enabled: false` passes every packet straight through and keeps no pictures.
    pub fn new(enabled: bool) -> Self {
        Splice {
            enabled,
            sent: VecDeque::new(),
            held: VecDeque::new(),
            ready: VecDeque::new(),
            finished: Vec::new(),
            last_pts_sent: None,
            last_dts: None,
            broken: None,
            headers: None,
            headers_on_keyframes: None,
            fault: None,
            splices: 0,
            lost: 0,
            released_since_splice: 0,
        }
    }

    fn recording(&self) -> bool {
        self.enabled && self.broken.is_none()
    }

    /// Pictures kept for a resume.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.sent.len()
    }

    /// One picture was handed to the helper.
    pub fn on_sent(&mut self, pts: i64, frame: F) {
        if !self.recording() {
            return;
        }
        if let Some(last) = self.last_pts_sent.filter(|&last| pts <= last) {
            return self.give_up(format!(
                "picture pts {pts} after pts {last}: a resume needs increasing timestamps"
            ));
        }
        self.last_pts_sent = Some(pts);
        self.sent.push_back(Sent {
            pts,
            answered: false,
            frame,
        });
    }

    /// One packet arrived from the helper.
    pub fn on_packet(&mut self, packet: OutputPacket) {
        if !self.recording() {
            return self.release(packet);
        }
        match self
            .sent
            .iter_mut()
            .find(|s| s.pts == packet.pts && !s.answered)
        {
            Some(s) => s.answered = true,
            None => {
                let why = format!(
                    "the helper returned a packet with pts {} that matches no picture in flight",
                    packet.pts
                );
                self.give_up(why);
                return self.release(packet);
            }
        }
        self.held.push_back(packet);
        self.cut();
        while self.held.len() > HOLD_LIMIT {
            match self.sent.iter().position(|s| !s.answered) {
                Some(missing) => {
                    let gone = self.sent.remove(missing).expect("found above");
                    self.finished.push(gone.frame);
                    self.lost += 1;
                    self.cut();
                }
                None => break,
            }
        }
    }

    /// DONE: the helper has sent everything it will; nothing is left to resume.
    pub fn on_done(&mut self) {
        self.lost += self.sent.iter().filter(|s| !s.answered).count() as u64;
        self.finished.extend(self.sent.drain(..).map(|s| s.frame));
        while let Some(p) = self.held.pop_front() {
            self.release(p);
        }
    }

    /// Pictures whose packets have all reached the caller (their buffers can be reused).
    pub fn take_finished(&mut self) -> std::vec::Drain<'_, F> {
        self.finished.drain(..)
    }

    /// The next packet for the caller.
    pub fn take_ready(&mut self) -> Option<OutputPacket> {
        self.ready.pop_front()
    }

    /// Ok when a helper that takes over can go on from here, else why not.
    pub fn resumable(&self) -> Result<(), String> {
        match &self.broken {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// The helper is gone: the pictures to encode again, in input order, or why that is not
    /// possible. They come back through `on_sent` as they are resent.
    pub fn restart(&mut self) -> Result<Vec<F>, String> {
        self.resumable()?;
        self.held.clear();
        self.last_pts_sent = None;
        self.headers = None;
        self.headers_on_keyframes = None;
        self.splices += 1;
        self.released_since_splice = 0;
        Ok(self.sent.drain(..).map(|s| s.frame).collect())
    }

    /// The parameter sets (Annex B) of the helper that took over, put in front of its first
    /// packet: the container's out-of-band copy came from the first helper (`original`).
    /// Where they differ from that copy, every later keyframe carries them too.
    pub fn lead_with(&mut self, headers: Vec<u8>, original: &[u8]) {
        if headers.is_empty() {
            return;
        }
        if headers != original {
            self.headers_on_keyframes = Some(headers.clone());
        }
        self.headers = Some(headers);
    }

    /// Why the stream cannot go on with valid timestamps, once.
    pub fn take_fault(&mut self) -> Option<String> {
        self.fault.take()
    }

    /// Forgets everything (a reset): no packet of the old stream will be released.
    pub fn clear(&mut self) {
        let enabled = self.enabled;
        *self = Splice::new(enabled);
    }

    /// Releases the longest run of held packets that completes a prefix of the input: after
    /// `j + 1` packets the largest pts among them is the pts of the `j + 1`-th picture still
    /// kept (pts increase, each picture has at most one packet).
    fn cut(&mut self) {
        let mut max = i64::MIN;
        let mut cut = None;
        for (j, p) in self.held.iter().enumerate() {
            let Some(s) = self.sent.get(j) else { break };
            max = max.max(p.pts);
            if s.pts == max {
                cut = Some(j);
            }
        }
        let Some(j) = cut else { return };
        for _ in 0..=j {
            let done = self.sent.pop_front().expect("counted above");
            self.finished.push(done.frame);
            let p = self.held.pop_front().expect("counted above");
            self.release(p);
        }
    }

    fn give_up(&mut self, why: String) {
        self.broken = Some(why);
        self.finished.extend(self.sent.drain(..).map(|s| s.frame));
        while let Some(p) = self.held.pop_front() {
            self.release(p);
        }
    }

    fn release(&mut self, mut packet: OutputPacket) {
        let headers = match self.headers.take() {
            Some(h) => Some(h),
            None if packet.keyframe => self.headers_on_keyframes.clone(),
            None => None,
        };
        if let Some(mut headers) = headers {
            headers.extend_from_slice(&packet.data);
            packet.data = headers;
        }
        // Only a splice can make decode timestamps step back (the new helper may delay
        // differently); a muxer refuses that, so they are nudged forward, never reordered.
        // A helper that delays B pictures more than the first one leaves no room: then the
        // stream cannot go on, and the caller is told why instead of its muxer.
        if self.splices > 0 {
            if let Some(last) = self.last_dts.filter(|&last| packet.dts <= last) {
                packet.dts = last + 1;
                if packet.dts > packet.pts && self.fault.is_none() {
                    self.fault = Some(format!(
                        "the helper that took over delays B-frames more than the first one \
                         (pts {} would need dts {} after dts {last})",
                        packet.pts, packet.dts
                    ));
                }
            }
        }
        self.last_dts = Some(packet.dts);
        self.released_since_splice += 1;
        self.ready.push_back(packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pts: i64, dts: i64) -> OutputPacket {
        OutputPacket {
            pts,
            dts,
            duration: 1,
            keyframe: false,
            data: vec![pts as u8],
        }
    }

    fn drain<F>(s: &mut Splice<F>) -> Vec<(i64, i64)> {
        std::iter::from_fn(|| s.take_ready())
            .map(|p| (p.pts, p.dts))
            .collect()
    }

    /// I0 P3 B1 B2 P6 B4 B5 in decode order, dts one tick behind.
    const MINI_GOPS: [(i64, i64); 7] = [(0, -1), (3, 0), (1, 1), (2, 2), (6, 3), (4, 4), (5, 5)];

    #[test]
    fn without_reordering_every_packet_is_released_at_once() {
        let mut s = Splice::new(true);
        for pts in 0..3 {
            s.on_sent(pts, pts);
            s.on_packet(packet(pts, pts));
            assert_eq!(drain(&mut s), [(pts, pts)]);
        }
        assert_eq!(s.kept(), 0);
    }

    #[test]
    fn a_p_picture_waits_for_the_b_pictures_before_it() {
        let mut s = Splice::new(true);
        for pts in 0..7 {
            s.on_sent(pts, pts);
        }
        let mut released = Vec::new();
        for (pts, dts) in MINI_GOPS {
            s.on_packet(packet(pts, dts));
            released.push(drain(&mut s).len());
        }
        assert_eq!(released, [1, 0, 0, 3, 0, 0, 3]);
        assert_eq!(s.kept(), 0);
        let finished: Vec<i64> = s.take_finished().collect();
        assert_eq!(
            finished,
            (0..7).collect::<Vec<_>>(),
            "every buffer comes back once"
        );
    }

    #[test]
    fn a_restart_resends_every_picture_whose_packet_the_caller_has_not_got() {
        let mut s = Splice::new(true);
        for pts in 0..7 {
            s.on_sent(pts, pts * 10);
        }
        for (pts, dts) in &MINI_GOPS[..5] {
            s.on_packet(packet(*pts, *dts));
        }
        assert_eq!(drain(&mut s), [(0, -1), (3, 0), (1, 1), (2, 2)]);
        // P6 was held for B4 and B5: all three are encoded again.
        assert_eq!(s.restart().unwrap(), [40, 50, 60]);
        s.lead_with(vec![0, 0, 1, 0x67], &[0, 0, 1, 0x67]);
        for pts in 4..7 {
            s.on_sent(pts, pts * 10);
        }
        // The new helper delays by two ticks: dts 2 would repeat, and is nudged.
        let mut first = packet(4, 2);
        first.keyframe = true;
        s.on_packet(first);
        s.on_packet(packet(5, 3));
        s.on_packet(packet(6, 4));
        let out: Vec<_> = std::iter::from_fn(|| s.take_ready()).collect();
        assert_eq!(
            out.iter().map(|p| (p.pts, p.dts)).collect::<Vec<_>>(),
            [(4, 3), (5, 4), (6, 5)]
        );
        assert_eq!(
            out[0].data,
            [0, 0, 1, 0x67, 4],
            "parameter sets lead the splice"
        );
        assert_eq!(out[1].data, [5], "only the first packet gets them");
        assert_eq!(s.take_fault(), None);
    }

    #[test]
    fn parameter_sets_unlike_the_containers_go_in_front_of_every_later_keyframe() {
        let mut s = Splice::new(true);
        s.on_sent(0, ());
        s.restart().unwrap();
        s.lead_with(vec![9], &[1]);
        for pts in 0..3 {
            s.on_sent(pts, ());
            let mut p = packet(pts, pts);
            p.keyframe = pts != 1;
            s.on_packet(p);
        }
        let data: Vec<Vec<u8>> = std::iter::from_fn(|| s.take_ready())
            .map(|p| p.data)
            .collect();
        assert_eq!(data, [vec![9, 0], vec![1], vec![9, 2]]);
    }

    #[test]
    fn a_helper_that_delays_more_after_a_splice_is_a_fault_not_a_bad_timestamp_downstream() {
        let mut s = Splice::new(true);
        for pts in 0..3 {
            s.on_sent(pts, ());
            s.on_packet(packet(pts, pts));
        }
        drain(&mut s);
        s.on_sent(3, ());
        s.restart().unwrap();
        // I3 dts 2, P5 dts 3, B4 dts 4 would need dts 3, 4, 5: B4 ends after its pts.
        for pts in 3..6 {
            s.on_sent(pts, ());
        }
        for (pts, dts) in [(3, 2), (5, 3), (4, 4)] {
            s.on_packet(packet(pts, dts));
        }
        let why = s.take_fault().expect("a fault");
        assert!(why.contains("pts 4 would need dts 5 after dts 4"), "{why}");
    }

    #[test]
    fn a_picture_the_helper_never_answers_stops_holding_after_the_limit() {
        let mut s = Splice::new(true);
        for pts in 0..=(HOLD_LIMIT as i64 + 1) {
            s.on_sent(pts, ());
        }
        // Picture 0 never comes back.
        for pts in 1..=HOLD_LIMIT as i64 {
            s.on_packet(packet(pts, pts));
        }
        assert!(drain(&mut s).is_empty());
        s.on_packet(packet(HOLD_LIMIT as i64 + 1, 0));
        assert_eq!(drain(&mut s).len(), HOLD_LIMIT + 1);
        assert_eq!(s.lost, 1);
    }

    #[test]
    fn done_releases_what_is_held() {
        let mut s = Splice::new(true);
        for pts in 0..3 {
            s.on_sent(pts, ());
        }
        s.on_packet(packet(2, 0));
        assert!(drain(&mut s).is_empty());
        s.on_done();
        assert_eq!(drain(&mut s), [(2, 0)]);
        assert_eq!(s.lost, 2);
        assert!(s.restart().unwrap().is_empty());
    }

    #[test]
    fn timestamps_that_do_not_increase_end_the_promise_with_a_reason() {
        let mut s = Splice::new(true);
        s.on_sent(5, ());
        s.on_sent(5, ());
        s.on_packet(packet(5, 5));
        assert_eq!(drain(&mut s), [(5, 5)], "packets still flow");
        let why = s.restart().unwrap_err();
        assert_eq!(
            why,
            "picture pts 5 after pts 5: a resume needs increasing timestamps"
        );
    }

    #[test]
    fn an_unknown_packet_pts_ends_the_promise_and_releases_what_was_held() {
        let mut s = Splice::new(true);
        s.on_sent(0, ());
        s.on_sent(1, ());
        s.on_packet(packet(1, 0));
        s.on_packet(packet(9, 1));
        assert_eq!(drain(&mut s), [(1, 0), (9, 1)]);
        assert!(s.restart().unwrap_err().contains("pts 9"));
    }

    #[test]
    fn disabled_keeps_nothing_and_passes_packets_through() {
        let mut s = Splice::new(false);
        s.on_sent(0, ());
        s.on_sent(1, ());
        s.on_packet(packet(1, 0));
        assert_eq!(drain(&mut s), [(1, 0)]);
        assert_eq!(s.kept(), 0);
    }

    /// Decode order of `n` pictures coded in mini-GOPs of the given sizes: each group's
    /// last picture (the P) first, then its B pictures; dts one tick behind the input.
    fn decode_order(n: i64, groups: &[i64]) -> Vec<(i64, i64)> {
        let mut order = Vec::new();
        let mut start = 0;
        let mut sizes = groups.iter().cycle();
        while start < n {
            let len = (*sizes.next().unwrap()).min(n - start);
            order.push(start + len - 1);
            order.extend(start..start + len - 1);
            start += len;
        }
        order
            .into_iter()
            .enumerate()
            .map(|(i, pts)| (pts, i as i64 - 1))
            .collect()
    }

    proptest::proptest! {
        /// Whatever the reordering and wherever the helper dies, the caller gets every
        /// picture exactly once, the dead helper's share is a prefix of the input, and
        /// decode timestamps keep increasing.
        #[test]
        fn every_picture_exactly_once_wherever_the_helper_dies(
            n in 1i64..80,
            groups in proptest::collection::vec(1i64..5, 1..6),
            died_after in 0usize..80,
            new_delay in 0i64..4,
        ) {
            let mut s = Splice::new(true);
            for pts in 0..n {
                s.on_sent(pts, pts);
            }
            let order = decode_order(n, &groups);
            for &(pts, dts) in order.iter().take(died_after) {
                s.on_packet(packet(pts, dts));
            }
            let first: Vec<(i64, i64)> = drain(&mut s);
            let mut first_pts: Vec<i64> = first.iter().map(|p| p.0).collect();
            first_pts.sort_unstable();
            proptest::prop_assert_eq!(&first_pts, &(0..first.len() as i64).collect::<Vec<_>>());
            let again = s.restart().unwrap();
            proptest::prop_assert_eq!(&again, &(first.len() as i64..n).collect::<Vec<_>>());
            // The new helper reorders differently and delays by `new_delay` ticks.
            for &pts in &again {
                s.on_sent(pts, pts);
            }
            let start = again.first().copied().unwrap_or(0);
            let mut order2: Vec<(i64, i64)> = decode_order(again.len() as i64, &[3])
                .into_iter()
                .map(|(p, d)| (p + start, d + start - new_delay))
                .collect();
            order2.truncate(again.len());
            for (pts, dts) in order2 {
                s.on_packet(packet(pts, dts));
            }
            s.on_done();
            let all: Vec<(i64, i64)> = first.into_iter().chain(drain(&mut s)).collect();
            let mut pts: Vec<i64> = all.iter().map(|p| p.0).collect();
            pts.sort_unstable();
            proptest::prop_assert_eq!(pts, (0..n).collect::<Vec<_>>());
            for w in all.windows(2) {
                proptest::prop_assert!(w[0].1 < w[1].1, "dts {} then {}", w[0].1, w[1].1);
            }
            for (pts, dts) in &all {
                proptest::prop_assert!(dts <= pts, "dts {} after pts {}", dts, pts);
            }
            proptest::prop_assert_eq!(s.take_fault(), None);
            proptest::prop_assert_eq!(s.lost, 0);
        }
    }
}
