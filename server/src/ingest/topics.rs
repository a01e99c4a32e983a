//! Which topics ingest reads and how their records are read: event topics, dead-letter
//! topics (names and `^patterns`), and the envelope mappings of other teams' topics.
//! Built once from configuration (`config::IngestConfig::topic_lists`), handed to the
//! consumer (its subscription) and to every batch (how each topic is decoded).

use super::envelopes::Envelopes;
use crate::masking::Masker;
use std::sync::Arc;
use switchyard_contract::topic_selection::TopicSelection;

#[derive(Clone, Debug)]
pub struct Topics {
    pub events: TopicSelection,
    pub dead_letters: TopicSelection,
    /// Envelope mappings by topic pattern; their topics are among `events`.
    pub envelopes: Arc<Envelopes>,
    /// What is masked in what ingest stores ([`crate::masking`]).
    pub masker: Masker,
}

impl Topics {
    /// The fleet's contract: its event topics and every convention's dead-letter topics.
    pub fn contract() -> Topics {
        Topics {
            events: TopicSelection::contract_events(),
            dead_letters: TopicSelection::default_dead_letters(),
            envelopes: Arc::default(),
            masker: Masker::default(),
        }
    }

    /// What the consumer subscribes to: both lists, each entry once.
    pub fn subscription(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for e in self
            .events
            .entries()
            .iter()
            .chain(self.dead_letters.entries())
        {
            if !all.contains(e) {
                all.push(e.clone());
            }
        }
        all
    }
}
