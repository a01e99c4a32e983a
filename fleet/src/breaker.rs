//! A circuit breaker with Resilience4j's semantics, as the fleet's services wrap their
//! downstream dependencies (payment gateway, warehouse API, carrier API).
//!
//! The seed's breaker counted consecutive failures and forgot everything on one success;
//! this one follows the model operators know from Resilience4j:
//! - CLOSED records outcomes in a count-based sliding window; once the window holds at
//!   least `minimum_calls`, a failure rate or slow-call rate at or above its threshold opens
//!   the breaker;
//! - OPEN refuses calls (counted as *not permitted*) until `wait_in_open` has passed, then
//!   the next call attempt moves it to HALF_OPEN;
//! - HALF_OPEN lets `permitted_in_half_open` trial calls through and decides on their rates
//!   alone: CLOSED again, or back to OPEN;
//! - FORCED_OPEN refuses everything and DISABLED permits everything, until `reset`.
//!
//! The state machine is pure and clock-free (times are passed in as milliseconds), so it is
//! tested exhaustively by property tests; callers own the clock and the locking.

use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
    Disabled,
}

impl State {
    /// The name used on `breaker.transition` events.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Open => "OPEN",
            State::HalfOpen => "HALF_OPEN",
            State::ForcedOpen => "FORCED_OPEN",
            State::Disabled => "DISABLED",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Percentage of failed calls (0–100) at which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Percentage of slow calls (0–100) at which the breaker opens.
    pub slow_call_rate_threshold: f64,
    /// A call taking at least this long counts as slow.
    pub slow_call_ms: u64,
    /// Calls kept in the CLOSED sliding window.
    pub window_size: usize,
    /// Calls the window must hold before rates are judged.
    pub minimum_calls: usize,
    pub wait_in_open_ms: u64,
    pub permitted_in_half_open: usize,
}

impl Default for Config {
    /// Resilience4j's defaults, but a 10 s wait so demos recover visibly.
    fn default() -> Self {
        Config {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_ms: 60_000,
            window_size: 100,
            minimum_calls: 100,
            wait_in_open_ms: 10_000,
            permitted_in_half_open: 10,
        }
    }
}

/// One state change, with the rates that caused it (as published on `breaker.transition`).
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub failure_rate: f64,
    pub slow_call_rate: f64,
    pub calls: usize,
    pub at_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    failed: bool,
    slow: bool,
}

/// Rates over a set of outcomes, in percent.
fn rates(outcomes: &VecDeque<Outcome>) -> (f64, f64) {
    if outcomes.is_empty() {
        return (0.0, 0.0);
    }
    let n = outcomes.len() as f64;
    let failed = outcomes.iter().filter(|o| o.failed).count() as f64;
    let slow = outcomes.iter().filter(|o| o.slow).count() as f64;
    (100.0 * failed / n, 100.0 * slow / n)
}

#[derive(Debug)]
pub struct Breaker {
    config: Config,
    state: State,
    /// Outcomes of the current state: the sliding window when CLOSED, the trial calls when
    /// HALF_OPEN.
    outcomes: VecDeque<Outcome>,
    /// HALF_OPEN trial calls let through so far.
    trials_issued: usize,
    opened_at_ms: u64,
    /// Calls refused since creation (the `not_permitted` metric).
    pub not_permitted: u64,
    transitions: Vec<Transition>,
}

impl Breaker {
    pub fn new(config: Config) -> Self {
        assert!(
            config.window_size > 0 && config.permitted_in_half_open > 0,
            "empty window"
        );
        Breaker {
            config,
            state: State::Closed,
            outcomes: VecDeque::new(),
            trials_issued: 0,
            opened_at_ms: 0,
            not_permitted: 0,
            transitions: Vec::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Current (failure rate, slow-call rate) in percent over the state's outcomes.
    pub fn rates(&self) -> (f64, f64) {
        rates(&self.outcomes)
    }

    /// Transitions since the last call, oldest first (for publishing).
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    fn move_to(&mut self, to: State, now_ms: u64) {
        let (failure_rate, slow_call_rate) = rates(&self.outcomes);
        self.transitions.push(Transition {
            from: self.state,
            to,
            failure_rate,
            slow_call_rate,
            calls: self.outcomes.len(),
            at_ms: now_ms,
        });
        self.state = to;
        self.outcomes.clear();
        self.trials_issued = 0;
        if to == State::Open {
            self.opened_at_ms = now_ms;
        }
    }

    /// Asks to make a call. `false`: refused (and counted as not permitted).
    pub fn try_acquire(&mut self, now_ms: u64) -> bool {
        let permitted = match self.state {
            State::Closed | State::Disabled => true,
            State::ForcedOpen => false,
            State::Open => {
                if now_ms.saturating_sub(self.opened_at_ms) >= self.config.wait_in_open_ms {
                    self.move_to(State::HalfOpen, now_ms);
                    self.trials_issued = 1;
                    true
                } else {
                    false
                }
            }
            State::HalfOpen => {
                if self.trials_issued < self.config.permitted_in_half_open {
                    self.trials_issued += 1;
                    true
                } else {
                    false
                }
            }
        };
        if !permitted {
            self.not_permitted += 1;
        }
        permitted
    }

    fn too_bad(&self) -> bool {
        let (failure, slow) = rates(&self.outcomes);
        failure >= self.config.failure_rate_threshold
            || slow >= self.config.slow_call_rate_threshold
    }

    /// Records the outcome of a call that `try_acquire` permitted.
    pub fn on_result(&mut self, now_ms: u64, duration_ms: u64, failed: bool) {
        let outcome = Outcome {
            failed,
            slow: duration_ms >= self.config.slow_call_ms,
        };
        match self.state {
            State::Closed => {
                self.outcomes.push_back(outcome);
                if self.outcomes.len() > self.config.window_size {
                    self.outcomes.pop_front();
                }
                if self.outcomes.len() >= self.config.minimum_calls.min(self.config.window_size)
                    && self.too_bad()
                {
                    self.move_to(State::Open, now_ms);
                }
            }
            State::HalfOpen => {
                self.outcomes.push_back(outcome);
                if self.outcomes.len() >= self.config.permitted_in_half_open {
                    let next = if self.too_bad() {
                        State::Open
                    } else {
                        State::Closed
                    };
                    self.move_to(next, now_ms);
                }
            }
            // A call permitted before a forced or disabled state: nothing to judge.
            State::Open | State::ForcedOpen | State::Disabled => {}
        }
    }

    /// Refuses every call until [`Breaker::reset`].
    pub fn force_open(&mut self, now_ms: u64) {
        if self.state != State::ForcedOpen {
            self.move_to(State::ForcedOpen, now_ms);
        }
    }

    /// Permits every call and judges nothing until [`Breaker::reset`].
    pub fn disable(&mut self, now_ms: u64) {
        if self.state != State::Disabled {
            self.move_to(State::Disabled, now_ms);
        }
    }

    /// Back to CLOSED with an empty window.
    pub fn reset(&mut self, now_ms: u64) {
        if self.state != State::Closed {
            self.move_to(State::Closed, now_ms);
        } else {
            self.outcomes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Config {
        Config {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 80.0,
            slow_call_ms: 100,
            window_size: 10,
            minimum_calls: 5,
            wait_in_open_ms: 1000,
            permitted_in_half_open: 3,
        }
    }

    fn call(b: &mut Breaker, now: u64, failed: bool) -> bool {
        let ok = b.try_acquire(now);
        if ok {
            b.on_result(now, 1, failed);
        }
        ok
    }

    #[test]
    fn opens_on_failure_rate_then_recovers_through_half_open() {
        let mut b = Breaker::new(small());
        for i in 0..4 {
            call(&mut b, i, true);
        }
        assert_eq!(b.state(), State::Closed, "below minimum calls");
        call(&mut b, 5, true);
        assert_eq!(b.state(), State::Open);
        assert!(!call(&mut b, 500, false), "refused while waiting");
        assert_eq!(b.not_permitted, 1);
        assert!(call(&mut b, 1005, false), "first trial after the wait");
        assert_eq!(b.state(), State::HalfOpen);
        call(&mut b, 1006, false);
        call(&mut b, 1007, false);
        assert_eq!(b.state(), State::Closed);
        let path: Vec<_> = b
            .take_transitions()
            .iter()
            .map(|t| (t.from, t.to))
            .collect();
        assert_eq!(
            path,
            vec![
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Closed)
            ]
        );
    }

    #[test]
    fn failing_trials_reopen_and_slow_calls_count() {
        let mut b = Breaker::new(small());
        for i in 0..5 {
            assert!(b.try_acquire(i));
            b.on_result(i, 150, false); // slow, not failed
        }
        assert_eq!(b.state(), State::Open, "slow-call rate 100% >= 80%");
        assert!(b.try_acquire(2000));
        b.on_result(2000, 1, true);
        assert!(b.try_acquire(2001) && b.try_acquire(2002));
        assert!(!b.try_acquire(2003), "only three trials in half-open");
        b.on_result(2001, 1, true);
        b.on_result(2002, 1, false);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn forced_open_and_disabled_override_until_reset() {
        let mut b = Breaker::new(small());
        b.force_open(0);
        assert!(!call(&mut b, 10_000_000, false));
        b.disable(1);
        for i in 0..50 {
            assert!(call(&mut b, i, true));
        }
        assert_eq!(b.state(), State::Disabled);
        b.reset(2);
        assert_eq!(b.state(), State::Closed);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Call { failed: bool, duration: u64 },
        Acquire,
        Result { failed: bool, duration: u64 },
        Advance(u64),
        ForceOpen,
        Disable,
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), 0..200u64).prop_map(|(failed, duration)| Op::Call { failed, duration }),
            1 => Just(Op::Acquire),
            1 => (any::<bool>(), 0..200u64).prop_map(|(failed, duration)| Op::Result { failed, duration }),
            2 => (0..1500u64).prop_map(Op::Advance),
            1 => Just(Op::ForceOpen),
            1 => Just(Op::Disable),
            1 => Just(Op::Reset),
        ]
    }

    fn allowed(from: State, to: State) -> bool {
        use State::*;
        matches!(
            (from, to),
            (Closed, Open)
                | (Open, HalfOpen)
                | (HalfOpen, Open)
                | (HalfOpen, Closed)
                | (_, ForcedOpen)
                | (_, Disabled)
                | (ForcedOpen, Closed)
                | (Disabled, Closed)
                | (Open, Closed)
        ) && from != to
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// No sequence of calls, outcomes, clock jumps and operator actions breaks the rules.
        #[test]
        fn no_sequence_violates_the_state_rules(ops in prop::collection::vec(op(), 1..200)) {
            let cfg = small();
            let mut b = Breaker::new(cfg.clone());
            let mut now = 0u64;
            let mut state = State::Closed;
            for op in ops {
                let before = b.state();
                let opened_at = b.opened_at_ms;
                let by_operator = matches!(op, Op::ForceOpen | Op::Disable | Op::Reset);
                match op {
                    Op::Call { failed, duration } => {
                        let permitted = b.try_acquire(now);
                        match before {
                            State::ForcedOpen => prop_assert!(!permitted),
                            State::Disabled | State::Closed => prop_assert!(permitted),
                            State::Open => prop_assert_eq!(
                                permitted,
                                now.saturating_sub(opened_at) >= cfg.wait_in_open_ms
                            ),
                            State::HalfOpen => {}
                        }
                        if permitted {
                            b.on_result(now, duration, failed);
                        }
                    }
                    Op::Acquire => { b.try_acquire(now); }
                    Op::Result { failed, duration } => b.on_result(now, duration, failed),
                    Op::Advance(ms) => now += ms,
                    Op::ForceOpen => b.force_open(now),
                    Op::Disable => b.disable(now),
                    Op::Reset => b.reset(now),
                }
                for t in b.take_transitions() {
                    prop_assert_eq!(t.from, state, "transitions chain");
                    prop_assert!(allowed(t.from, t.to), "{:?} -> {:?}", t.from, t.to);
                    prop_assert!(by_operator || !matches!(t.to, State::ForcedOpen | State::Disabled));
                    if t.from == State::Closed && t.to == State::Open {
                        prop_assert!(t.calls >= cfg.minimum_calls);
                        prop_assert!(t.failure_rate >= cfg.failure_rate_threshold
                            || t.slow_call_rate >= cfg.slow_call_rate_threshold);
                    }
                    if t.from == State::HalfOpen && !by_operator {
                        prop_assert_eq!(t.calls, cfg.permitted_in_half_open);
                    }
                    state = t.to;
                }
                prop_assert_eq!(b.state(), state);
                prop_assert!(b.trials_issued <= cfg.permitted_in_half_open);
                prop_assert!(b.outcomes.len() <= cfg.window_size.max(cfg.permitted_in_half_open));
            }
        }
    }
}
