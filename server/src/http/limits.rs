//! Per-user limits on the two things a signed-in user can hold open or keep busy: live-push
//! streams and questions to the assistant. A refusal is a 429 with `Retry-After` and a
//! sentence saying which limit, counted in `switchyard_refusals_total{reason}`.
//!
//! A slot ([`Slot`]) is held for as long as its response body lives: the stream's end, a
//! browser that goes away, and an error all give it back.

use crate::auth::policy::ASSISTANT_ASK_PATH;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_app::auth::Principal;

/// At most `max` slots per user at once.
#[derive(Clone)]
pub struct PerUser {
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

/// One user's slot, given back on drop.
pub struct Slot {
    user: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl PerUser {
    pub fn new(max: usize) -> Self {
        PerUser {
            max: max.max(1),
            held: Arc::default(),
        }
    }

    /// A slot for `user`, or `None` when they hold `max` already.
    pub fn take(&self, user: &str) -> Option<Slot> {
        let mut held = self.held.lock().expect("not poisoned");
        let n = held.entry(user.to_string()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            user: user.to_string(),
            held: self.held.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().expect("not poisoned");
        if let Some(n) = held.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.user);
            }
        }
    }
}

/// The assistant's gate: questions per user per minute, and running at once.
#[derive(Clone)]
pub struct AskGate {
    rate: Arc<DefaultKeyedRateLimiter<String>>,
    running: PerUser,
}

impl AskGate {
    pub fn new(per_min: u32, in_flight: usize) -> Self {
        let n = NonZeroU32::new(per_min.max(1)).expect("at least one");
        let quota = Quota::with_period(Duration::from_secs(60) / n.get())
            .expect("non-zero period")
            .allow_burst(n);
        AskGate {
            rate: Arc::new(RateLimiter::keyed(quota)),
            running: PerUser::new(in_flight),
        }
    }
}

/// Middleware on the assistant's ask endpoint (inside the auth layer, which put the
/// [`Principal`] there): refuses over either limit, else holds a running slot until the
/// answer's stream ends or the browser goes.
pub async fn gate_questions(State(gate): State<AskGate>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path() != ASSISTANT_ASK_PATH {
        return next.run(req).await;
    }
    let Some(user) = req.extensions().get::<Principal>().map(|p| p.name.clone()) else {
        return next.run(req).await; // the auth layer refused it already
    };
    if let Err(n) = gate.rate.check_key(&user) {
        let wait = n.wait_time_from(DefaultClock::default().now());
        return too_many(
            "assistant_rate",
            "too many questions to the assistant: wait a moment",
            wait,
        );
    }
    let Some(slot) = gate.running.take(&user) else {
        return too_many(
            "assistant_busy",
            "the assistant is still answering your earlier questions",
            Duration::from_secs(5),
        );
    };
    hold_while_body_lives(next.run(req).await, slot)
}

/// `resp` with `slot` given back only when its body is finished or dropped.
pub fn hold_while_body_lives(resp: Response, slot: Slot) -> Response {
    resp.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &slot;
            chunk
        }))
    })
}

/// A 429 with `Retry-After`, counted under `reason`.
pub fn too_many(reason: &'static str, why: &'static str, wait: Duration) -> Response {
    crate::metrics::refused(reason);
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, why).into_response();
    crate::auth::retry_after(&mut resp, wait);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_user_and_given_back() {
        let p = PerUser::new(2);
        let a1 = p.take("a").unwrap();
        let _a2 = p.take("a").unwrap();
        assert!(p.take("a").is_none());
        assert!(p.take("b").is_some(), "others unaffected");
        drop(a1);
        assert!(p.take("a").is_some());
    }
}
