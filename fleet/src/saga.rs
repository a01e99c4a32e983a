//! The order saga as a pure state machine over its durable log.
//!
//! The seed kept a saga's progress in memory (`completedSteps`), so a crash mid-saga
//! forgot which steps had run and what to undo. Here every step start and result is an
//! entry in a log the orchestrator persists *before* acting; [`next`] derives what to do
//! from the log alone. Restarting after a crash means reading the log and calling [`next`]:
//! a step that started without a recorded result is run again (handlers are idempotent),
//! and compensation resumes where it stopped, in reverse order of the completed steps.
//!
//! Operators act through the log too (`saga.command`, [`super::commands`]): a forced
//! compensation logs the step in flight as [`Outcome::Cancelled`], and a retried
//! compensation is a new `Started` entry after the `Failed` one.

/// The order saga's steps, in execution order (compensation runs in reverse).
pub const ORDER_STEPS: &[&str] = &["inventory", "payment", "shipment"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Execute,
    Compensate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    /// An operator stopped the step while it was in flight (forced compensation): it may
    /// have acted, so it is undone with the others (undoing what never acted is a no-op).
    Cancelled,
}

/// One entry of the saga log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub step: usize,
    pub phase: Phase,
    pub outcome: Outcome,
}

/// What the orchestrator must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Execute(usize),
    Compensate(usize),
    /// Every step succeeded.
    Completed,
    /// A step failed and every completed step has been compensated.
    Compensated,
    /// A compensation failed: needs an operator (the seed's "manual intervention"), who
    /// may retry it (a new `Started` entry for that step).
    Stuck {
        step: usize,
    },
}

/// Derives the next action from the log (entries in the order they were written).
pub fn next(log: &[Entry], steps: usize) -> Next {
    let mut executed: Vec<bool> = vec![false; steps];
    let mut compensated: Vec<bool> = vec![false; steps];
    let mut failed = false;
    let mut in_flight: Option<(usize, Phase)> = None;
    let mut stuck: Option<usize> = None;
    for e in log {
        match (e.phase, e.outcome) {
            (phase, Outcome::Started) => {
                if phase == Phase::Compensate && stuck == Some(e.step) {
                    stuck = None; // the failed undo is being tried again
                }
                in_flight = Some((e.step, phase));
            }
            (Phase::Execute, Outcome::Succeeded) => {
                executed[e.step] = true;
                in_flight = None;
            }
            (Phase::Execute, Outcome::Failed) => {
                failed = true;
                in_flight = None;
            }
            (Phase::Compensate, Outcome::Succeeded) => {
                compensated[e.step] = true;
                in_flight = None;
            }
            (_, Outcome::Cancelled) => {
                failed = true;
                executed[e.step] = true;
                in_flight = None;
            }
            (Phase::Compensate, Outcome::Failed) => {
                stuck = Some(e.step);
                in_flight = None;
            }
        }
    }
    if let Some(step) = stuck {
        return Next::Stuck { step };
    }
    if !failed {
        // A step that started without a result is run again: handlers are idempotent.
        if let Some((step, Phase::Execute)) = in_flight {
            return Next::Execute(step);
        }
        return match executed.iter().position(|done| !done) {
            Some(step) => Next::Execute(step),
            None => Next::Completed,
        };
    }
    // Undo completed steps, latest first.
    match (0..steps).rev().find(|&s| executed[s] && !compensated[s]) {
        Some(step) => Next::Compensate(step),
        None => Next::Compensated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(step: usize, phase: Phase, outcome: Outcome) -> Entry {
        Entry {
            step,
            phase,
            outcome,
        }
    }

    /// Runs a saga to its end, failing execute of `fail_at`, optionally "crashing" (dropping
    /// the unwritten tail) after `crash_after` entries and resuming from the log.
    fn drive(
        steps: usize,
        fail_at: Option<usize>,
        crash_after: Option<usize>,
    ) -> (Vec<Entry>, Next) {
        let mut log = Vec::new();
        let mut crashed = false;
        loop {
            let n = next(&log, steps);
            let (step, phase) = match n {
                Next::Execute(s) => (s, Phase::Execute),
                Next::Compensate(s) => (s, Phase::Compensate),
                done => return (log, done),
            };
            log.push(e(step, phase, Outcome::Started));
            if !crashed && crash_after.is_some_and(|c| log.len() >= c) {
                crashed = true; // the result was never written; resume from the log
                continue;
            }
            let outcome = if phase == Phase::Execute && Some(step) == fail_at {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            };
            log.push(e(step, phase, outcome));
        }
    }

    #[test]
    fn happy_path_executes_every_step_in_order() {
        let (log, end) = drive(3, None, None);
        assert_eq!(end, Next::Completed);
        let done: Vec<_> = log
            .iter()
            .filter(|x| x.outcome == Outcome::Succeeded)
            .map(|x| x.step)
            .collect();
        assert_eq!(done, vec![0, 1, 2]);
    }

    #[test]
    fn compensation_runs_in_reverse_order_of_completed_steps() {
        let (log, end) = drive(3, Some(2), None);
        assert_eq!(end, Next::Compensated);
        let undone: Vec<_> = log
            .iter()
            .filter(|x| x.phase == Phase::Compensate && x.outcome == Outcome::Succeeded)
            .map(|x| x.step)
            .collect();
        assert_eq!(
            undone,
            vec![1, 0],
            "shipment failed: undo payment, then inventory"
        );
        let (_, end) = drive(3, Some(0), None);
        assert_eq!(
            end,
            Next::Compensated,
            "nothing to undo when the first step fails"
        );
    }

    #[test]
    fn a_failed_compensation_needs_an_operator() {
        let log = vec![
            e(0, Phase::Execute, Outcome::Succeeded),
            e(1, Phase::Execute, Outcome::Failed),
            e(0, Phase::Compensate, Outcome::Failed),
        ];
        assert_eq!(next(&log, 3), Next::Stuck { step: 0 });
    }

    #[test]
    fn a_failed_compensation_can_be_tried_again() {
        let mut log = vec![
            e(0, Phase::Execute, Outcome::Succeeded),
            e(1, Phase::Execute, Outcome::Failed),
            e(0, Phase::Compensate, Outcome::Started),
            e(0, Phase::Compensate, Outcome::Failed),
        ];
        assert_eq!(next(&log, 3), Next::Stuck { step: 0 });
        log.push(e(0, Phase::Compensate, Outcome::Started));
        assert_eq!(next(&log, 3), Next::Compensate(0));
        log.push(e(0, Phase::Compensate, Outcome::Succeeded));
        assert_eq!(next(&log, 3), Next::Compensated);
    }

    #[test]
    fn a_cancelled_step_is_undone_with_the_steps_before_it() {
        let mut log = vec![
            e(0, Phase::Execute, Outcome::Succeeded),
            e(1, Phase::Execute, Outcome::Started),
            e(1, Phase::Execute, Outcome::Cancelled),
        ];
        assert_eq!(next(&log, 3), Next::Compensate(1));
        log.push(e(1, Phase::Compensate, Outcome::Started));
        log.push(e(1, Phase::Compensate, Outcome::Succeeded));
        assert_eq!(next(&log, 3), Next::Compensate(0));
        log.push(e(0, Phase::Compensate, Outcome::Started));
        log.push(e(0, Phase::Compensate, Outcome::Succeeded));
        assert_eq!(next(&log, 3), Next::Compensated);
    }

    proptest! {
        /// Wherever a crash lands, the resumed saga ends completed or compensated, each
        /// step's effect applied at most once net (executed once, undone at most once).
        #[test]
        fn crashes_resume_to_a_clean_end(fail_at in prop::option::of(0..3usize), crash in prop::option::of(1..12usize)) {
            let (log, end) = drive(3, fail_at, crash);
            let ok = |s: usize, p: Phase| log.iter().filter(|x| x.step == s && x.phase == p && x.outcome == Outcome::Succeeded).count();
            match fail_at {
                None => {
                    prop_assert_eq!(end, Next::Completed);
                    for s in 0..3 { prop_assert_eq!(ok(s, Phase::Execute), 1); }
                }
                Some(f) => {
                    prop_assert_eq!(end, Next::Compensated);
                    for s in 0..3 {
                        prop_assert_eq!(ok(s, Phase::Execute), usize::from(s < f));
                        prop_assert_eq!(ok(s, Phase::Compensate), usize::from(s < f));
                    }
                }
            }
        }
    }
}
