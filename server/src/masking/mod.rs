//! Masking: what a viewer of the console may see of a payload.
//!
//! Why at rest, not on the way out. A value masked only when a page renders it is still
//! in the database, and whatever searches the database finds it: Kafbat UI users report
//! masked fields that a search still matches (provectus/kafka-ui#4115). Here, ingest masks
//! what it stores in readable columns — an event's data and headers (and so everything
//! projected from them: orders, saga steps, the assistant's previews, the live stream,
//! search), a dead letter's exception text — so every page, server function, tool result
//! and search sees masked values by construction. What must stay exact is kept apart and
//! never rendered as it is: a dead letter's original bytes and headers, which replays send
//! unchanged; they are shown only through [`TopicRules`] ([`crate::replay::view`]), and
//! unmasked only by an admin's audited reveal. An event's unmasked original is not kept at
//! all: it is on the broker, at the topic, partition and offset the console shows.
//!
//! What is masked ([`rules`]): fields by JSON pointer or by name pattern, and headers by
//! name, per topic pattern, with built-in rules for the obvious (secrets, card and
//! personal identifiers by field name); and values found anywhere by [`detect`] (card
//! numbers, e-mail addresses, international phone numbers, secrets in text).
//!
//! Cost. Most events hold nothing to mask, and ingest's fast path stores their data as the
//! text that arrived. [`TopicRules::may_need`] looks at that text first — a few byte scans
//! ([`detect::may_find_by_characters`]) and one literal pass over the built-in names' and
//! the secret detector's words, the patterns only when a word is there — and only a
//! document it flags is parsed, masked and printed again (decode-bench in BENCHMARKS.md:
//! about one event in a thousand of the synthetic mix). A topic with rules of its own (fields or key patterns) parses every document.

pub mod detect;
pub mod rules;

use detect::{Detector, MASK};
use regex::Regex;
use rules::{Rule, Seg};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The console's masking policy, shared (cheap to clone); rules are compiled per topic on
/// first use.
#[derive(Clone, Debug)]
pub struct Masker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: rules::Config,
    names: Regex,
    names_in_json: regex::bytes::Regex,
    /// The built-in names' and the secret detector's words, any case, in one pass.
    words: Arc<aho_corasick::AhoCorasick>,
    topics: Mutex<HashMap<String, Arc<TopicRules>>>,
}

impl Default for Masker {
    /// The built-in rules and every detector.
    fn default() -> Self {
        Masker::new(rules::Config::default())
    }
}

impl Masker {
    pub fn new(config: rules::Config) -> Masker {
        Masker {
            inner: Arc::new(Inner {
                config,
                names: rules::default_names(),
                names_in_json: rules::default_names_in_json(),
                words: Arc::new(
                    aho_corasick::AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        // Every event's text is searched: the DFA is the fastest to search
                        // (a few KiB for these words).
                        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                        .build(
                            rules::NAME_LITERALS
                                .iter()
                                .chain(detect::SECRET_WORD_LITERALS),
                        )
                        .expect("literal words"),
                ),
                topics: Mutex::default(),
            }),
        }
    }

    /// The policy of the file configuration names (`SWITCHYARD_MASKING`), or the built-in
    /// one; a bad file stops the start with one line naming the rule.
    pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Masker> {
        let Some(path) = path else {
            return Ok(Masker::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("masking rules {}: {e}", path.display()))?;
        let config = rules::parse(&text)
            .map_err(|e| anyhow::anyhow!("masking rules {}: {e}", path.display()))?;
        Ok(Masker::new(config))
    }

    /// The rules that apply to `topic`.
    pub fn for_topic(&self, topic: &str) -> Arc<TopicRules> {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = topics.get(topic) {
            return r.clone();
        }
        let c = &self.inner.config;
        let own: Vec<&Rule> = c
            .rules
            .iter()
            .filter(|r| r.topics.as_ref().is_none_or(|t| t.matches(topic)))
            .collect();
        let rules = Arc::new(TopicRules {
            detectors: c.detectors.clone(),
            names: c.defaults.then(|| self.inner.names.clone()),
            names_in_json: c.defaults.then(|| self.inner.names_in_json.clone()),
            words: self.inner.words.clone(),
            keys: own.iter().flat_map(|r| r.keys.iter().cloned()).collect(),
            fields: own.iter().flat_map(|r| r.fields.iter().cloned()).collect(),
            headers: own.iter().flat_map(|r| r.headers.iter().cloned()).collect(),
        });
        topics.insert(topic.to_string(), rules.clone());
        rules
    }

    /// Free text that belongs to no topic's fields (an exception message, a search term):
    /// the detectors only.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        detect::mask_text(text, &self.inner.config.detectors)
    }

    /// [`Self::text`] in place.
    pub fn mask(&self, text: &mut String) {
        if let Cow::Owned(m) = self.text(text) {
            *text = m;
        }
    }
}

/// The masking rules of one topic.
#[derive(Debug)]
pub struct TopicRules {
    detectors: Vec<Detector>,
    /// The built-in names (when the defaults are on).
    names: Option<Regex>,
    names_in_json: Option<regex::bytes::Regex>,
    words: Arc<aho_corasick::AhoCorasick>,
    keys: Vec<Regex>,
    fields: Vec<Vec<Seg>>,
    /// Lower case.
    headers: Vec<String>,
}

impl TopicRules {
    /// Whether a JSON document with this text may hold something to mask. `false` is
    /// certain; `true` means parse it and see.
    pub fn may_need(&self, json: &[u8]) -> bool {
        if !self.keys.is_empty()
            || !self.fields.is_empty()
            || detect::may_find_by_characters(json, &self.detectors)
        {
            return true;
        }
        let secret = self.detectors.contains(&Detector::Secret);
        if !(secret || self.names_in_json.is_some()) || !self.words.is_match(json) {
            return false;
        }
        (secret && detect::has_secret_word(json))
            || self
                .names_in_json
                .as_ref()
                .is_some_and(|r| r.is_match(json))
    }

    /// Whether the detectors may find something in `text`: the characters first, then the
    /// literal pass, the secret patterns last.
    fn may_find(&self, text: &[u8]) -> bool {
        detect::may_find_by_characters(text, &self.detectors)
            || (self.detectors.contains(&Detector::Secret)
                && self.words.is_match(text)
                && detect::has_secret_word(text))
    }

    /// Masks `v` in place; true if anything changed.
    pub fn value(&self, v: &mut Value) -> bool {
        let mut path = Vec::new();
        self.walk(v, &mut path)
    }

    /// The detectors over free text.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        detect::mask_text(text, &self.detectors)
    }

    /// [`Self::text`] in place.
    pub fn mask(&self, text: &mut String) {
        if let Cow::Owned(m) = self.text(text) {
            *text = m;
        }
    }

    /// Whether a field of this name is masked whole.
    fn name_masked(&self, name: &str) -> bool {
        // Every built-in name holds one of the literal words (`rules::NAME_LITERALS`).
        self.names
            .as_ref()
            .is_some_and(|r| self.words.is_match(name) && r.is_match(name))
            || self.keys.iter().any(|r| r.is_match(name))
    }

    /// Whether a header of this name is masked whole.
    pub fn header_masked(&self, name: &str) -> bool {
        self.name_masked(name) || self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    fn path_masked(&self, path: &[String]) -> bool {
        self.fields.iter().any(|f| {
            f.len() == path.len()
                && f.iter().zip(path).all(|(s, p)| match s {
                    Seg::Any => true,
                    Seg::Name(n) => n == p,
                })
        })
    }

    fn walk(&self, v: &mut Value, path: &mut Vec<String>) -> bool {
        match v {
            Value::Object(m) => {
                let mut changed = false;
                for (k, child) in m.iter_mut() {
                    path.push(k.clone());
                    changed |= if self.name_masked(k) || self.path_masked(path) {
                        whole(child)
                    } else {
                        self.walk(child, path)
                    };
                    path.pop();
                }
                changed
            }
            Value::Array(a) => {
                let mut changed = false;
                for (i, child) in a.iter_mut().enumerate() {
                    path.push(i.to_string());
                    changed |= if self.path_masked(path) {
                        whole(child)
                    } else {
                        self.walk(child, path)
                    };
                    path.pop();
                }
                changed
            }
            Value::String(s) => match self.text(s) {
                Cow::Owned(m) => {
                    *s = m;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Number(n) if self.detectors.contains(&Detector::Card) => {
                match n.as_u64().and_then(detect::card_number) {
                    Some(m) => {
                        *v = Value::String(m);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// Masks headers stored as `[{key, text | hex}]` (see `ingest::record::headers_json`):
    /// a header masked by name keeps its key and shows [`MASK`]; the others' text goes
    /// through the detectors. True if anything changed.
    pub fn headers(&self, headers: &mut Value) -> bool {
        let Value::Array(list) = headers else {
            return false;
        };
        let mut changed = false;
        for h in list.iter_mut().filter_map(Value::as_object_mut) {
            let key = h.get("key").and_then(Value::as_str).unwrap_or_default();
            if self.header_masked(key) {
                let already =
                    h.get("text").and_then(Value::as_str) == Some(MASK) && !h.contains_key("hex");
                if !already && (h.contains_key("text") || h.contains_key("hex")) {
                    h.remove("hex");
                    h.insert("text".into(), Value::String(MASK.into()));
                    changed = true;
                }
            } else if let Some(Value::String(t)) = h.get_mut("text") {
                if !self.may_find(t.as_bytes()) {
                    continue;
                }
                if let Cow::Owned(m) = self.text(t) {
                    *t = m;
                    changed = true;
                }
            }
        }
        changed
    }
}

/// Replaces a value masked whole (an object or array too: nothing of it is shown).
fn whole(v: &mut Value) -> bool {
    if matches!(v, Value::Null) || v.as_str() == Some(MASK) {
        return false;
    }
    *v = Value::String(MASK.into());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker(file: &str) -> Masker {
        Masker::new(rules::parse(file).unwrap())
    }

    #[test]
    fn built_in_rules_mask_secrets_by_name_and_values_anywhere() {
        let r = Masker::default().for_topic("orders.created");
        let mut v = json!({
            "order_id": "o-1",
            "customer": {"name": "Jane", "email": "jane@example.com", "password": {"old": "a", "new": "b"}},
            "payment": {"cardNumber": 4111111111111111u64, "note": "card 4111 1111 1111 1111 ok"},
            "contacts": ["+44 20 7946 0958", "ops@example.com"],
            "amount": 12.5,
            "at": 1733370000000u64,
            "missing": null
        });
        assert!(r.value(&mut v));
        assert_eq!(
            v,
            json!({
                "order_id": "o-1",
                "customer": {"name": "Jane", "email": "****", "password": "****"},
                "payment": {"cardNumber": "****", "note": "card ****1111 ok"},
                "contacts": ["+****58", "****@example.com"],
                "amount": 12.5,
                "at": 1733370000000u64,
                "missing": null
            })
        );
        // Masking what is masked changes nothing.
        assert!(!r.value(&mut v));
    }

    #[test]
    fn rules_apply_to_their_topics_by_pointer_key_and_header() {
        let m = masker(
            r#"
            [[rule]]
            topics = ["^shop\\..*"]
            fields = ["/customer/name", "/lines/*/note"]
            keys = ["(?i)^iban$"]
            headers = ["X-Customer-IP"]
            "#,
        );
        let shop = m.for_topic("shop.orders");
        let mut v = json!({
            "customer": {"name": "Jane", "IBAN": "GB33BUKB20201555555555"},
            "lines": [{"note": "gift", "sku": "a"}, {"sku": "b"}]
        });
        assert!(shop.value(&mut v));
        assert_eq!(
            v,
            json!({
                "customer": {"name": "****", "IBAN": "****"},
                "lines": [{"note": "****", "sku": "a"}, {"sku": "b"}]
            })
        );
        let mut h = json!([
            {"key": "x-customer-ip", "text": "10.1.2.3"},
            {"key": "authorization", "hex": "00ff"},
            {"key": "reply-to", "text": "jane@example.com"},
            {"key": "x-trace", "text": "abc"}
        ]);
        assert!(shop.headers(&mut h));
        assert_eq!(
            h,
            json!([
                {"key": "x-customer-ip", "text": "****"},
                {"key": "authorization", "text": "****"},
                {"key": "reply-to", "text": "****@example.com"},
                {"key": "x-trace", "text": "abc"}
            ])
        );
        assert!(!shop.headers(&mut h));
        // Another topic: only the built-in rules.
        let mut v = json!({"customer": {"name": "Jane"}});
        assert!(!m.for_topic("billing.invoices").value(&mut v));
    }

    #[test]
    fn the_cheap_look_flags_what_masking_changes() {
        let r = Masker::default().for_topic("orders.created");
        for (text, needs) in [
            (r#"{"order_id":"o-1","amount":12.5}"#, false),
            (r#"{"email":"x"}"#, true),
            (r#"{"contact":"a@b.io"}"#, true),
            (r#"{"apiToken":"x"}"#, true),
            (r#"{"n":4111111111111111}"#, true),
        ] {
            assert_eq!(r.may_need(text.as_bytes()), needs, "{text}");
            let mut v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(r.value(&mut v), needs, "{text}");
        }
        // A topic with rules of its own always parses.
        let m = masker("[[rule]]\nfields = [\"/a\"]");
        assert!(m.for_topic("t").may_need(b"{}"));
    }

    #[test]
    fn defaults_off_masks_only_what_the_file_says() {
        let m = masker("defaults = false\n[[rule]]\nkeys = [\"^ssn$\"]");
        let mut v = json!({"ssn": "1", "password": "p", "email": "a@b.io"});
        assert!(m.for_topic("t").value(&mut v));
        assert_eq!(
            v,
            json!({"ssn": "****", "password": "p", "email": "a@b.io"})
        );
    }
}
