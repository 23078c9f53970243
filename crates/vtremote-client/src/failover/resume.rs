//! Decode failover: the access units a new helper must decode again, and which of its
//! pictures the caller already has.
//!
//! A decoder can only start at a random-access point, so the record keeps every access
//! unit from the last random-access point before the first picture the caller has not got
//! (pictures come out in pts order, so once the picture of a random-access point is
//! delivered, everything decoded before it is too). After a takeover they are sent again;
//! the pictures they yield up to the last one delivered are dropped, so the caller sees
//! each picture once.

use std::collections::VecDeque;

use vtremote_proto::Codec;

use crate::decode::InputPacket;

/// Bounds of the record. A stream whose keyframes are further apart than this cannot be
/// resumed (said when a helper fails), rather than costing unbounded memory.
pub(crate) const MAX_KEPT_PACKETS: usize = 1200;
pub(crate) const MAX_KEPT_BYTES: usize = 256 << 20;

/// An access unit kept for a resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptPacket {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
    random_access: bool,
}

impl KeptPacket {
    pub fn as_input(&self) -> InputPacket<'_> {
        InputPacket {
            pts: self.pts,
            dts: self.dts,
            duration: self.duration,
            keyframe: self.keyframe,
            data: &self.data,
        }
    }
}

pub(crate) struct Resume {
    enabled: bool,
    codec: Codec,
    kept: VecDeque<KeptPacket>,
    bytes: usize,
    /// Why the record lacks access units a resume would need (until a later random-access
    /// point has been delivered).
    incomplete: Option<String>,
    last_delivered: Option<i64>,
    /// After a takeover: pictures up to this pts were delivered already.
    skip_through: Option<i64>,
    /// Set once pictures come out without increasing pts (a stream without timestamps,
    /// where FFmpeg passes 0 for each, or pts that jump back): pts can then no longer tell
    /// which pictures were delivered, so no resume is promised until a seek.
    disordered: Option<String>,
    /// Pictures dropped as already delivered.
    pub duplicates: u64,
}

impl Resume {
    pub fn new(enabled: bool, codec: Codec) -> Self {
        Resume {
            enabled,
            codec,
            kept: VecDeque::new(),
            bytes: 0,
            incomplete: None,
            last_delivered: None,
            skip_through: None,
            disordered: None,
            duplicates: 0,
        }
    }

    /// Access units kept for a resume.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// One access unit was handed to the helper. The caller's keyframe flag is trusted,
    /// and a raw Annex B input without flags is looked into (IDR, CRA, BLA).
    pub fn on_sent(&mut self, packet: &InputPacket<'_>) {
        if !self.enabled || self.disordered.is_some() {
            return;
        }
        let random_access = packet.keyframe
            || vtremote_media::nal::access_unit_is_random_access(self.codec, packet.data);
        self.bytes += packet.data.len();
        self.kept.push_back(KeptPacket {
            pts: packet.pts,
            dts: packet.dts,
            duration: packet.duration,
            keyframe: packet.keyframe,
            data: packet.data.to_vec(),
            random_access,
        });
        self.trim();
        if self.kept.len() > MAX_KEPT_PACKETS || self.bytes > MAX_KEPT_BYTES {
            self.incomplete = Some(format!(
                "the pictures not yet delivered go back more than {MAX_KEPT_PACKETS} access \
                 units or {} MiB to a keyframe",
                MAX_KEPT_BYTES >> 20
            ));
            // Keeps the newest start point's access units if that is enough to fit.
            match self.kept.iter().rposition(|k| k.random_access) {
                Some(i) if i > 0 => self.drop_front(i),
                _ => self.drop_front(self.kept.len()),
            }
        }
    }

    /// Whether a picture goes to the caller: not when a takeover decoded it again.
    pub fn deliver(&mut self, pts: i64) -> bool {
        if let Some(through) = self.skip_through {
            if pts <= through {
                self.duplicates += 1;
                return false;
            }
            self.skip_through = None;
        }
        if let Some(last) = self.last_delivered.filter(|&last| pts <= last) {
            if self.enabled && self.disordered.is_none() {
                self.disordered = Some(format!(
                    "pictures come out without increasing timestamps (pts {pts} after {last}), \
                     so those already delivered cannot be told apart"
                ));
                self.kept = VecDeque::new();
                self.bytes = 0;
            }
            return true;
        }
        self.last_delivered = Some(pts);
        self.trim();
        true
    }

    /// Ok when a helper that takes over can go on from here, else why not.
    pub fn resumable(&self) -> Result<(), String> {
        match (&self.disordered, &self.incomplete) {
            (Some(why), _) | (None, Some(why)) => Err(why.clone()),
            (None, None) => Ok(()),
        }
    }

    /// The helper is gone: the access units to decode again, or why that is not possible.
    /// They come back through `on_sent` as they are resent.
    pub fn restart(&mut self) -> Result<Vec<KeptPacket>, String> {
        self.resumable()?;
        self.skip_through = self.last_delivered;
        self.bytes = 0;
        Ok(std::mem::take(&mut self.kept).into())
    }

    /// Forgets everything (a seek).
    pub fn clear(&mut self) {
        *self = Resume::new(self.enabled, self.codec);
    }

    /// Drops what no resume needs: everything before the newest random-access point whose
    /// picture was delivered.
    fn trim(&mut self) {
        let Some(last) = self.last_delivered else {
            return;
        };
        if let Some(i) = self
            .kept
            .iter()
            .rposition(|k| k.random_access && k.pts <= last)
        {
            self.drop_front(i);
            self.incomplete = None;
        }
    }

    fn drop_front(&mut self, n: usize) {
        for k in self.kept.drain(..n) {
            self.bytes -= k.data.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(r: &mut Resume, pts: i64, keyframe: bool) {
        let data = [0, 0, 0, 1, 0x41, pts as u8];
        r.on_sent(&InputPacket {
            pts,
            dts: pts,
            duration: 1,
            keyframe,
            data: &data,
        });
    }

    fn pts_of(kept: &[KeptPacket]) -> Vec<i64> {
        kept.iter().map(|p| p.pts).collect()
    }

    #[test]
    fn a_resume_starts_at_the_keyframe_before_the_first_picture_not_delivered() {
        let mut r = Resume::new(true, Codec::H264);
        for pts in 0..10 {
            send(&mut r, pts, pts % 4 == 0);
        }
        for pts in 0..6 {
            assert!(r.deliver(pts));
        }
        // 6 and 7 are still in flight: their keyframe is 4, not the newer 8.
        assert_eq!(pts_of(&r.restart().unwrap()), [4, 5, 6, 7, 8, 9]);
        let delivered: Vec<i64> = (4..10).filter(|&pts| r.deliver(pts)).collect();
        assert_eq!(delivered, [6, 7, 8, 9]);
        assert_eq!(r.duplicates, 2);
    }

    #[test]
    fn a_delivered_keyframe_picture_lets_go_of_everything_before_it() {
        let mut r = Resume::new(true, Codec::H264);
        for pts in 0..10 {
            send(&mut r, pts, pts % 4 == 0);
        }
        for pts in 0..9 {
            r.deliver(pts);
        }
        assert_eq!(r.kept(), 2);
        assert_eq!(pts_of(&r.restart().unwrap()), [8, 9]);
    }

    #[test]
    fn pictures_decoded_again_are_dropped_until_the_first_new_one() {
        let mut r = Resume::new(true, Codec::H264);
        for pts in 0..6 {
            send(&mut r, pts, pts == 0);
        }
        for pts in 0..4 {
            assert!(r.deliver(pts));
        }
        assert_eq!(pts_of(&r.restart().unwrap()), [0, 1, 2, 3, 4, 5]);
        let delivered: Vec<i64> = (0..6).filter(|&pts| r.deliver(pts)).collect();
        assert_eq!(delivered, [4, 5]);
        assert_eq!(r.duplicates, 4);
        // Past the splice, an equal pts is not mistaken for a duplicate again.
        assert!(r.deliver(5));
    }

    #[test]
    fn an_idr_in_raw_annex_b_without_a_keyframe_flag_is_a_starting_point() {
        let mut r = Resume::new(true, Codec::H264);
        send(&mut r, 0, false);
        let idr = [0, 0, 0, 1, 0x65, 0x88];
        r.on_sent(&InputPacket {
            pts: 1,
            dts: 1,
            duration: 1,
            keyframe: false,
            data: &idr,
        });
        send(&mut r, 2, false);
        r.deliver(0);
        r.deliver(1);
        assert_eq!(pts_of(&r.restart().unwrap()), [1, 2]);
    }

    #[test]
    fn keyframes_too_far_apart_make_a_resume_impossible_until_a_later_one_is_delivered() {
        let mut r = Resume::new(true, Codec::H264);
        for pts in 0..=MAX_KEPT_PACKETS as i64 {
            send(&mut r, pts, pts == 0);
        }
        assert_eq!(r.kept(), 0, "memory given back");
        let why = r.restart().unwrap_err();
        assert!(why.contains("more than 1200 access units"), "{why}");
        let mut r = Resume::new(true, Codec::H264);
        for pts in 0..=MAX_KEPT_PACKETS as i64 {
            send(&mut r, pts, pts == 0);
        }
        send(&mut r, 5000, true);
        r.deliver(5000);
        assert_eq!(pts_of(&r.restart().unwrap()), [5000]);
    }

    #[test]
    fn pictures_without_increasing_pts_end_the_promise_and_are_all_delivered() {
        let mut r = Resume::new(true, Codec::H264);
        for _ in 0..3 {
            send(&mut r, 0, true);
        }
        assert!(r.deliver(0));
        assert!(r.deliver(0), "delivered, never taken for a duplicate");
        assert_eq!(r.kept(), 0, "memory given back");
        send(&mut r, 0, true);
        assert_eq!(r.kept(), 0, "nothing kept any more");
        let why = r.restart().unwrap_err();
        assert!(why.contains("pts 0 after 0"), "{why}");
        r.clear();
        send(&mut r, 0, true);
        assert_eq!(r.kept(), 1, "a seek starts afresh");
    }

    #[test]
    fn disabled_keeps_nothing_and_delivers_everything() {
        let mut r = Resume::new(false, Codec::Hevc);
        send(&mut r, 0, true);
        assert_eq!(r.kept(), 0);
        assert!(r.deliver(0) && r.deliver(0));
    }

    proptest::proptest! {
        /// Wherever the helper dies, decoding again from what the record kept gives the
        /// caller every picture exactly once (pictures come out in pts order, each access
        /// unit one picture; the decoder in flight holds up to `lag` pictures).
        #[test]
        fn every_picture_exactly_once_wherever_the_helper_dies(
            keys in proptest::collection::vec(proptest::bool::ANY, 1..80),
            delivered in 0usize..80,
            lag in 0usize..8,
        ) {
            let n = keys.len();
            let delivered = delivered.min(n);
            let mut r = Resume::new(true, Codec::H264);
            let mut out = Vec::new();
            for (pts, &key) in keys.iter().enumerate() {
                send(&mut r, pts as i64, key);
                // The picture `lag` access units back comes out now.
                if pts >= lag && out.len() < delivered {
                    let p = out.len() as i64;
                    proptest::prop_assert!(r.deliver(p));
                    out.push(p);
                }
            }
            let again = r.restart().unwrap();
            let first = again.first().map(|k| k.pts).unwrap_or(n as i64);
            proptest::prop_assert!(first <= out.len() as i64, "starts at {} after {} delivered", first, out.len());
            proptest::prop_assert!(again.first().is_none_or(|k| k.random_access || k.pts == 0));
            for k in &again {
                r.on_sent(&k.as_input());
                if r.deliver(k.pts) {
                    out.push(k.pts);
                }
            }
            proptest::prop_assert_eq!(out, (0..n as i64).collect::<Vec<_>>());
        }
    }
}
