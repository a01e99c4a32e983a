//! The states things move through, one enum each, shared by both compile targets; each
//! serialises as the very text the database keeps.
//!
//! Statuses used to travel as `String` and be compared as text (`status != "pending"`), so
//! a misspelt state compiled and nothing listed the states a page has to handle. Here each
//! one is an enum whose serde name, [`Display`](fmt::Display) and [`FromStr`] are exactly
//! its stored text: the JSON on the wire, the SQL (which keeps its literals, `WHERE status
//! = 'pending'`) and the HTML (`status-{status}` classes) are what they were.
//!
//! The server reads a state column as text and turns it into its enum with the enum's
//! `from_db`, which never fails: a text this build does not know (a newer writer, a hand
//! edit) becomes the enum's documented fallback, without a panic or a log line. [`FromStr`]
//! itself is exact and fails on anything else; [`parse_or`] is the one place the two meet.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A text that names no state of the enum it was parsed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown state {:?}", self.0)
    }
}

impl std::error::Error for UnknownState {}

/// `text` as a `T`, or `fallback` when it names none: how a stored state is read.
pub fn parse_or<T: FromStr>(text: &str, fallback: T) -> T {
    text.parse().unwrap_or(fallback)
}

/// Defines one state enum: each variant with the text it is stored as, then optionally a
/// variant kept out of `ALL` (`outside_all`: a placeholder, not a state anything moves
/// through) and the variant an unknown stored text reads as (`fallback`, which generates
/// `from_db`).
macro_rules! states {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
        $( outside_all $(#[$xmeta:meta])* $extra:ident = $extra_text:literal; )?
        $( fallback $fallback:ident; )?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
            $( $(#[$xmeta])* #[serde(rename = $extra_text)] $extra, )?
        }

        impl $name {
            /// Every state, in the order things usually move through them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text the database keeps (and the JSON carries).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                    $( Self::$extra => $extra_text, )?
                }
            }

            $(
                #[doc = concat!(
                    "The state a stored text names; a text this build does not know reads as [`",
                    stringify!($name), "::", stringify!($fallback), "`]."
                )]
                pub fn from_db(text: &str) -> Self {
                    parse_or(text, Self::$fallback)
                }
            )?
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            /// The state named by exactly its stored text.
            fn from_str(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $( $text => Ok(Self::$variant), )+
                    $( $extra_text => Ok(Self::$extra), )?
                    _ => Err(UnknownState(s.to_string())),
                }
            }
        }
    };
}

states! {
    /// An order's status (`orders.status`), as the ingest projection folds it from the
    /// order's events: `pending` while only saga steps have been seen.
    pub enum OrderStatus {
        Pending = "pending",
        Created = "created",
        Confirmed = "confirmed",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
    outside_all
    /// No status known: an order as of a version before any event that sets one (time
    /// travel), or a stored text this build does not know. Never offered as a filter.
    Unknown = "unknown";
    fallback Unknown;
}

states! {
    /// A dead letter's status (`dead_letters.status`).
    ///
    /// A stored text this build does not know reads as `parked` (held back for a person);
    /// the server decides every replay and discard on the stored text, not on this.
    pub enum DeadLetterStatus {
        Pending = "pending",
        Replaying = "replaying",
        Replayed = "replayed",
        FailedAgain = "failed_again",
        Parked = "parked",
        Discarded = "discarded",
    }
    fallback Parked;
}

impl DeadLetterStatus {
    /// Whether it may be replayed (the server's claim has the last word).
    pub fn replayable(self) -> bool {
        self == DeadLetterStatus::Pending
    }

    /// Whether something can still be done with it: replayed or discarded.
    pub fn discardable(self) -> bool {
        matches!(
            self,
            DeadLetterStatus::Pending | DeadLetterStatus::Parked | DeadLetterStatus::FailedAgain
        )
    }
}

states! {
    /// A replay job's status (`replay_jobs.status`, which a CHECK constraint keeps to
    /// these). A text this build does not know reads as `failed`: over, nothing to cancel.
    pub enum JobStatus {
        Running = "running",
        Completed = "completed",
        Cancelled = "cancelled",
        Failed = "failed",
    }
    fallback Failed;
}

states! {
    /// One replay of a dead letter (`replays.status`): `sending` until the broker answered
    /// or recovery resolved it; `unsent` when a job was interrupted before sending it.
    ///
    /// A text this build does not know reads as `failed`: like every status but `sending`
    /// and `sent`, the live-replay index treats it as not sent.
    pub enum ReplayStatus {
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        Cancelled = "cancelled",
        Unsent = "unsent",
    }
    fallback Failed;
}

states! {
    /// A circuit breaker's state (`breakers.state`, `breaker_transitions.from_state` and
    /// `to_state`), in Resilience4j's names as the fleet publishes them.
    pub enum BreakerState {
        Closed = "CLOSED",
        Open = "OPEN",
        HalfOpen = "HALF_OPEN",
        ForcedOpen = "FORCED_OPEN",
        Disabled = "DISABLED",
    }
    outside_all
    /// No state known: a breaker seen only in metrics so far (the ingest stores
    /// `unknown`), or a name outside Resilience4j's set.
    Unknown = "unknown";
}

impl BreakerState {
    /// The state a stored text names, case-blind (breaker events come from producers; the
    /// console has always styled and counted their states case-blind); anything else is
    /// [`BreakerState::Unknown`].
    pub fn from_db(text: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .unwrap_or(BreakerState::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + fmt::Display + FromStr + Serialize,
        T::Err: fmt::Debug,
    {
        for s in all {
            let text = s.to_string();
            assert_eq!(text.parse::<T>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("{text:?}"));
        }
    }

    #[test]
    fn every_state_is_its_stored_text() {
        round_trips(OrderStatus::ALL);
        round_trips(DeadLetterStatus::ALL);
        round_trips(JobStatus::ALL);
        round_trips(ReplayStatus::ALL);
        round_trips(BreakerState::ALL);
        round_trips(&[OrderStatus::Unknown]);
        round_trips(&[BreakerState::Unknown]);
        assert_eq!(DeadLetterStatus::FailedAgain.as_str(), "failed_again");
        assert_eq!(BreakerState::HalfOpen.to_string(), "HALF_OPEN");
        assert_eq!(
            serde_json::from_str::<JobStatus>(r#""cancelled""#).unwrap(),
            JobStatus::Cancelled
        );
    }

    #[test]
    fn parsing_is_exact_and_reading_falls_back() {
        assert_eq!(
            "Pending".parse::<DeadLetterStatus>(),
            Err(UnknownState("Pending".into()))
        );
        assert_eq!(UnknownState("x".into()).to_string(), r#"unknown state "x""#);
        assert!(serde_json::from_str::<OrderStatus>(r#""shipped""#).is_err());
        assert_eq!(OrderStatus::from_db("shipped"), OrderStatus::Unknown);
        assert_eq!(OrderStatus::from_db("failed"), OrderStatus::Failed);
        assert_eq!(DeadLetterStatus::from_db("lost"), DeadLetterStatus::Parked);
        assert_eq!(JobStatus::from_db("paused"), JobStatus::Failed);
        assert_eq!(ReplayStatus::from_db("unsent"), ReplayStatus::Unsent);
        assert_eq!(parse_or("sent", ReplayStatus::Failed), ReplayStatus::Sent);
    }

    #[test]
    fn breaker_states_read_case_blind() {
        assert_eq!(BreakerState::from_db("half_open"), BreakerState::HalfOpen);
        assert_eq!(BreakerState::from_db("OPEN"), BreakerState::Open);
        assert_eq!(BreakerState::from_db("unknown"), BreakerState::Unknown);
        assert_eq!(BreakerState::from_db("METRICS_ONLY"), BreakerState::Unknown);
        assert!(!BreakerState::ALL.contains(&BreakerState::Unknown));
        assert!(!OrderStatus::ALL.contains(&OrderStatus::Unknown));
    }
}
