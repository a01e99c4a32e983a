//! Sign-in rate limits with `governor`, built so an attacker is slowed without locking the
//! owner out:
//! - **per address** (`4 × attempts` per window): one client cannot guess across accounts;
//! - **per account and address** (`attempts` per window): one client cannot guess one
//!   account fast, and spending that bucket touches nobody else's;
//! - **per account, across addresses** (the backstop, `10 × attempts` per window): many
//!   addresses cannot guess one account fast. Only attempts the two checks above let through
//!   spend it, so a single throttled attacker cannot drain it; when it is empty, an address
//!   the account has signed in from before still gets its own per-address quota
//!   ([`Verdict::Backstop`] tells the caller to ask).
//!
//! Every attempt counts, whether the account exists or not, so the answers reveal nothing
//! about which accounts exist. IPv6 addresses are keyed by their /64, the block one client
//! usually holds.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the limiter says of one attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and check the password.
    Allowed,
    /// This address (or this address on this account) is over its quota: wait.
    Throttled(Duration),
    /// The account is under attack from many addresses: allowed only if the caller has
    /// signed in to it from this address before; otherwise wait this long.
    Backstop(Duration),
}

#[derive(Clone)]
pub struct LoginLimiter {
    addresses: Arc<DefaultKeyedRateLimiter<String>>,
    pairs: Arc<DefaultKeyedRateLimiter<(String, String)>>,
    accounts: Arc<DefaultKeyedRateLimiter<String>>,
    /// Failed sign-ins written to the audit log, across all callers.
    audit: Arc<DefaultDirectRateLimiter>,
    /// Since the last [`shrink`](Self::shrink): attempts throttled, failures not audited.
    throttled: Arc<AtomicU64>,
    unaudited: Arc<AtomicU64>,
}

fn quota(n: u32, window: Duration) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least one");
    Quota::with_period(window / n.get())
        .expect("a window longer than zero")
        .allow_burst(n)
}

impl LoginLimiter {
    /// `attempts` per `window` per account and address (see the module for the others);
    /// `audit_per_min` failed sign-ins audited per minute.
    pub fn new(attempts: u32, window: Duration, audit_per_min: u32) -> Self {
        LoginLimiter {
            addresses: Arc::new(RateLimiter::keyed(quota(
                attempts.saturating_mul(4),
                window,
            ))),
            pairs: Arc::new(RateLimiter::keyed(quota(attempts, window))),
            accounts: Arc::new(RateLimiter::keyed(quota(
                attempts.saturating_mul(10),
                window,
            ))),
            audit: Arc::new(RateLimiter::direct(quota(
                audit_per_min,
                Duration::from_secs(60),
            ))),
            throttled: Arc::default(),
            unaudited: Arc::default(),
        }
    }

    /// Whether one more failed sign-in may be written to the audit log now; one that may
    /// not is counted (metric and the next summary line).
    pub fn may_audit(&self) -> bool {
        let ok = self.audit.check().is_ok();
        if !ok {
            self.unaudited.fetch_add(1, Ordering::Relaxed);
            crate::metrics::refused("login_audit_skipped");
        }
        ok
    }

    /// Counts a refused attempt (metric and the next summary line).
    pub fn note_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        crate::metrics::refused("login_throttled");
    }

    /// Counts one attempt on `account` from `address`.
    pub fn attempt(&self, account: &str, address: &str) -> Verdict {
        let now = DefaultClock::default().now();
        let account = account.to_lowercase();
        let address = address_key(address);
        if let Err(n) = self.addresses.check_key(&address) {
            return Verdict::Throttled(n.wait_time_from(now));
        }
        if let Err(n) = self.pairs.check_key(&(account.clone(), address)) {
            return Verdict::Throttled(n.wait_time_from(now));
        }
        match self.accounts.check_key(&account) {
            Ok(()) => Verdict::Allowed,
            Err(n) => Verdict::Backstop(n.wait_time_from(now)),
        }
    }

    /// Forgets keys whose quota has fully recovered (bounded memory) and logs, in one line,
    /// what was refused since the last call.
    pub fn shrink(&self) {
        let throttled = self.throttled.swap(0, Ordering::Relaxed);
        let unaudited = self.unaudited.swap(0, Ordering::Relaxed);
        if throttled + unaudited > 0 {
            tracing::warn!(
                throttled,
                unaudited,
                "sign-in attempts refused by the rate limits, and failed sign-ins over the audit budget (not written to the audit log)"
            );
        }
        self.addresses.retain_recent();
        self.pairs.retain_recent();
        self.accounts.retain_recent();
    }
}

/// The key an address is limited by: IPv4 as is, IPv6 by its /64.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().expect("mapped").to_string(),
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_and_address_is_limited_and_recovers() {
        let l = LoginLimiter::new(3, Duration::from_millis(300), 60);
        for _ in 0..3 {
            assert_eq!(l.attempt("Alice", "10.0.0.1"), Verdict::Allowed);
        }
        assert!(
            matches!(l.attempt("alice", "10.0.0.1"), Verdict::Throttled(_)),
            "case-folded account key"
        );
        assert_eq!(
            l.attempt("alice", "10.0.0.2"),
            Verdict::Allowed,
            "the owner's address is unaffected"
        );
        assert_eq!(l.attempt("bob", "10.0.0.1"), Verdict::Allowed);
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(
            l.attempt("alice", "10.0.0.1"),
            Verdict::Allowed,
            "recovered"
        );
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let l = LoginLimiter::new(1, Duration::from_secs(60), 60);
        for i in 0..4 {
            assert_eq!(l.attempt(&format!("user{i}"), "10.0.0.9"), Verdict::Allowed);
        }
        assert!(matches!(
            l.attempt("user9", "10.0.0.9"),
            Verdict::Throttled(_)
        ));
    }

    #[test]
    fn a_hammering_address_does_not_spend_the_account_backstop() {
        let l = LoginLimiter::new(2, Duration::from_secs(60), 60);
        for _ in 0..1000 {
            let _ = l.attempt("admin", "203.0.113.7");
        }
        assert_eq!(l.attempt("admin", "198.51.100.1"), Verdict::Allowed);
    }

    #[test]
    fn many_addresses_reach_the_backstop() {
        let l = LoginLimiter::new(1, Duration::from_secs(60), 60);
        for i in 0..10 {
            assert_eq!(
                l.attempt("admin", &format!("203.0.113.{i}")),
                Verdict::Allowed
            );
        }
        assert!(matches!(
            l.attempt("admin", "198.51.100.1"),
            Verdict::Backstop(_)
        ));
    }

    #[test]
    fn the_audit_budget_is_shared() {
        let l = LoginLimiter::new(1, Duration::from_secs(60), 3);
        let audited = (0..10).filter(|_| l.may_audit()).count();
        assert_eq!(audited, 3);
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_key("2001:db8:1:2:bbbb::9"),
            address_key("2001:db8:1:2:aaaa::1")
        );
        assert_eq!(address_key("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(address_key("10.0.0.1"), "10.0.0.1");
    }
}
