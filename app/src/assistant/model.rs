//! What the assistant sends the sidebar and keeps per conversation: streamed events,
//! citations (links to the records an answer used) and replay proposals. Shared by both
//! compile targets so the server and the browser agree on the wire format.

use crate::ops::DeadLetterFilter;
use serde::{Deserialize, Serialize};

/// A record an answer used, with the link to its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// What is cited, e.g. `ORD-1042` or `breaker payment/payment-gateway`.
    pub label: String,
    /// Where it lives in the console, e.g. `/orders/ORD-1042`.
    pub href: String,
}

/// One line of a replay proposal's dry run: how many dead letters would go back to which
/// topic, by error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalGroup {
    pub topic: String,
    pub error: String,
    pub count: i64,
}

/// A replay the assistant proposes and only an operator can confirm: the filter the DLQ
/// page's replay job would run with, and the dry-run figures computed read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayProposal {
    pub filter: DeadLetterFilter,
    /// Dead letters the card shows and a confirm replays: `ids.len()`.
    pub total: i64,
    pub groups: Vec<ProposalGroup>,
    /// Exactly the dead letters the card counts, oldest first: a confirm replays these
    /// (those still pending), never what the filter matches by then.
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Further pending dead letters that matched beyond the card's cap (not in `ids`).
    #[serde(default)]
    pub more: i64,
}

impl ReplayProposal {
    /// One line saying what the filter selects, for the card's heading.
    pub fn describe(&self) -> String {
        let f = &self.filter;
        let mut parts = vec![format!(
            "{} dead letter{}",
            self.total,
            if self.total == 1 { "" } else { "s" }
        )];
        if let Some(s) = &f.status {
            parts.push(format!("status {s}"));
        }
        if let Some(t) = &f.topic {
            parts.push(format!("topic {t}"));
        }
        if let Some(e) = &f.error {
            parts.push(format!("error containing {e:?}"));
        }
        if let Some(k) = &f.key {
            parts.push(format!("key {k}"));
        }
        if let Some(s) = f.since {
            parts.push(format!("since {}", s.format("%Y-%m-%d %H:%M UTC")));
        }
        if let Some(u) = f.until {
            parts.push(format!("before {}", u.format("%Y-%m-%d %H:%M UTC")));
        }
        if self.more > 0 {
            parts.push(format!(
                "{} more match beyond this card: ask again after",
                self.more
            ));
        }
        parts.join(", ")
    }
}

/// One message of the answer stream (one JSON object per line of the `ask` response).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssistantEvent {
    /// The answer begins: which conversation it belongs to and who answers.
    Started {
        conversation: String,
        backend: String,
        /// True for the offline router: answers come from rules and templates, not a model.
        rule_based: bool,
    },
    /// A piece of the answer's text.
    Delta {
        text: String,
    },
    /// A tool the assistant used (read-only), shown as a small trace line.
    Tool {
        name: String,
        summary: String,
    },
    Citation(Citation),
    Proposal(ReplayProposal),
    /// A remark about how the answer was made (e.g. "embedding model absent: rules only").
    Note {
        text: String,
    },
    Error {
        message: String,
    },
    Done,
}

impl AssistantEvent {
    /// The event as one line of the stream.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"kind":"error","message":"unserialisable event"}"#.to_string());
        s.push('\n');
        s
    }
}

/// One finished turn of a conversation, as kept and as shown again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatTurn {
    /// `user` or `assistant`.
    pub role: String,
    pub text: String,
    #[serde(default)]
    pub citations: Vec<Citation>,
    #[serde(default)]
    pub proposals: Vec<ReplayProposal>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub rule_based: bool,
}

impl ChatTurn {
    /// Folds one streamed event into the turn being shown.
    pub fn apply(&mut self, ev: &AssistantEvent) {
        match ev {
            AssistantEvent::Started { rule_based, .. } => self.rule_based = *rule_based,
            AssistantEvent::Delta { text } => self.text.push_str(text),
            AssistantEvent::Citation(c) => {
                if !self.citations.contains(c) {
                    self.citations.push(c.clone())
                }
            }
            AssistantEvent::Proposal(p) => self.proposals.push(p.clone()),
            AssistantEvent::Note { text } => self.notes.push(text.clone()),
            AssistantEvent::Error { message } => self.notes.push(format!("error: {message}")),
            AssistantEvent::Tool { .. } | AssistantEvent::Done => {}
        }
    }
}

/// Splits a stream's text into complete lines, keeping a partial last line for later.
#[derive(Default)]
pub struct LineBuffer(String);

impl LineBuffer {
    /// Adds a chunk and returns the events of every line it completed.
    pub fn push(&mut self, chunk: &str) -> Vec<AssistantEvent> {
        self.0.push_str(chunk);
        let mut out = Vec::new();
        while let Some(i) = self.0.find('\n') {
            let line: String = self.0.drain(..=i).collect();
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(line).unwrap_or_else(|e| AssistantEvent::Error {
                    message: format!("unreadable answer line: {e}"),
                }),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_are_reassembled() {
        let a = AssistantEvent::Delta {
            text: "hé\nllo".into(),
        }
        .to_line();
        let b = AssistantEvent::Done.to_line();
        let all = format!("{a}{b}");
        let (x, y) = all.split_at(7);
        let mut buf = LineBuffer::default();
        let mut evs = buf.push(x);
        evs.extend(buf.push(y));
        assert_eq!(
            evs,
            vec![
                AssistantEvent::Delta {
                    text: "hé\nllo".into()
                },
                AssistantEvent::Done
            ]
        );
    }

    #[test]
    fn a_turn_folds_events() {
        let mut t = ChatTurn::default();
        t.apply(&AssistantEvent::Started {
            conversation: "c".into(),
            backend: "offline".into(),
            rule_based: true,
        });
        t.apply(&AssistantEvent::Delta { text: "a".into() });
        t.apply(&AssistantEvent::Delta { text: "b".into() });
        let c = Citation {
            label: "ORD-1".into(),
            href: "/orders/ORD-1".into(),
        };
        t.apply(&AssistantEvent::Citation(c.clone()));
        t.apply(&AssistantEvent::Citation(c));
        assert_eq!(t.text, "ab");
        assert!(t.rule_based);
        assert_eq!(t.citations.len(), 1);
    }
}
