//! Slows token guessing: after a few wrong tokens from one address, further attempts from it
//! are refused without looking at the token for a while that doubles with each failure, up
//! to a cap. The cap keeps a stranger on a shared address (NAT) from locking the rightful
//! client out for long; a success clears the address's record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens forgiven before any wait (typos, a client restarted with an old token).
const FREE_FAILURES: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(30);
/// A record this old is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Addresses remembered at most (a flood from many addresses cannot grow the table).
const MAX_ADDRESSES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct AuthThrottle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl AuthThrottle {
    /// How long `ip` must still wait before its token is checked again; `None`: check it.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let r = records.get(&ip)?;
        let over = r.failures.checked_sub(FREE_FAILURES + 1)?;
        let wait = FIRST_WAIT
            .saturating_mul(1u32 << over.min(16))
            .min(MAX_WAIT);
        let until = r.last + wait;
        (now < until).then(|| until - now)
    }

    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_ADDRESSES && !records.contains_key(&ip) {
            records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
            if records.len() >= MAX_ADDRESSES {
                if let Some(oldest) = records.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| *k) {
                    records.remove(&oldest);
                }
            }
        }
        let r = records.entry(ip).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.duration_since(r.last) >= FORGET_AFTER {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_few_wrong_tokens_cost_nothing_then_the_wait_doubles_up_to_the_cap() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed(A, now);
            assert_eq!(t.wait(A, now), None);
        }
        t.failed(A, now);
        assert_eq!(t.wait(A, now), Some(FIRST_WAIT));
        t.failed(A, now);
        assert_eq!(t.wait(A, now), Some(2 * FIRST_WAIT));
        for _ in 0..40 {
            t.failed(A, now);
        }
        assert_eq!(t.wait(A, now), Some(MAX_WAIT), "capped");
        assert_eq!(t.wait(A, now + MAX_WAIT), None, "the wait ends");
        assert_eq!(t.wait(B, now), None, "other addresses are not affected");
    }

    #[test]
    fn success_and_time_forget_the_record() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for _ in 0..10 {
            t.failed(A, now);
        }
        t.succeeded(A);
        assert_eq!(t.wait(A, now), None);
        for _ in 0..10 {
            t.failed(B, now);
        }
        let later = now + FORGET_AFTER;
        t.failed(B, later);
        assert_eq!(t.wait(B, later), None, "old failures forgotten");
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            t.failed(
                IpAddr::V4(i.into()),
                now + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(t.records.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
