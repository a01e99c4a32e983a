//! Login rate limiting with `governor`: one keyed limiter per account name and one per
//! client address, so neither guessing one account from many addresses nor many accounts
//! from one address gets far. Every attempt counts, whether the account exists or not, so
//! the limiter's answers reveal nothing about which accounts exist.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct LoginLimiter {
    accounts: Arc<DefaultKeyedRateLimiter<String>>,
    addresses: Arc<DefaultKeyedRateLimiter<String>>,
}

impl LoginLimiter {
    /// `attempts` per `window` per account; four times that per address.
    pub fn new(attempts: u32, window: Duration) -> Self {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).expect("at least one");
            Quota::with_period(window / n.get())
                .expect("a window longer than zero")
                .allow_burst(n)
        };
        LoginLimiter {
            accounts: Arc::new(RateLimiter::keyed(quota(attempts))),
            addresses: Arc::new(RateLimiter::keyed(quota(attempts.saturating_mul(4)))),
        }
    }

    /// Counts one attempt; `Err(wait)` if the account or the address is over its quota.
    pub fn attempt(&self, account: &str, address: &str) -> Result<(), Duration> {
        let clock = DefaultClock::default();
        let account = account.to_lowercase();
        let by_address = self.addresses.check_key(&address.to_string());
        let by_account = self.accounts.check_key(&account);
        match (by_address, by_account) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(n), _) | (_, Err(n)) => Err(n.wait_time_from(clock.now())),
        }
    }

    /// Forgets keys whose quota has fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.accounts.retain_recent();
        self.addresses.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_and_recovers() {
        let l = LoginLimiter::new(3, Duration::from_millis(300));
        for _ in 0..3 {
            assert!(l.attempt("Alice", "10.0.0.1").is_ok());
        }
        assert!(
            l.attempt("alice", "10.0.0.2").is_err(),
            "case-folded account key"
        );
        assert!(
            l.attempt("bob", "10.0.0.1").is_ok(),
            "other accounts unaffected"
        );
        std::thread::sleep(Duration::from_millis(350));
        assert!(l.attempt("alice", "10.0.0.1").is_ok(), "recovered");
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let l = LoginLimiter::new(1, Duration::from_secs(60));
        for i in 0..4 {
            assert!(l.attempt(&format!("user{i}"), "10.0.0.9").is_ok());
        }
        assert!(l.attempt("user9", "10.0.0.9").is_err());
    }
}
