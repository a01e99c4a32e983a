//! The masking file (`SWITCHYARD_MASKING`, TOML) and the built-in rules.
//!
//! ```toml
//! defaults = true                      # the built-in rules below; false: only yours
//! detectors = ["card", "email", "phone", "secret"]   # values found anywhere (the default)
//!
//! [[rule]]
//! topics = ["^shop\\..*"]              # names and ^patterns, as SWITCHYARD_TOPICS; none: all
//! fields = ["/customer/name", "/lines/*/note"]   # JSON pointers; `*` is any key or index
//! keys = ["(?i)^(iban|tax_?id)$"]      # regular expressions over field names, at any depth
//! headers = ["x-customer-ip"]          # header names, any case
//! ```
//!
//! Built in: fields and headers named like a secret or a personal identifier — any name
//! containing `password`, `passphrase`, `secret`, `token`, `api_key`, `credential`,
//! `private_key`, `authorization`, `cookie`; or named exactly `pwd`, `pin`, `cvv`, `cvc`,
//! `pan`, `ssn`, `iban`, `card_number`, `cc_number`, `phone`, `phone_number`, `mobile`,
//! `msisdn`, `email`, `email_address` (any case; `_`, `-` or nothing between words, so
//! `cardNumber` and `api-key` too) — are masked whole, and the value detectors
//! ([`super::detect`]) look at every other string.

use super::detect::Detector;
use regex::Regex;
use serde::Deserialize;
use switchyard_contract::topic_selection::TopicSelection;

/// Built-in names masked when they appear anywhere in a field name.
const CONTAINS: &str =
    r"passw|passphrase|secret|token|api[_-]?key|credential|private[_-]?key|authorization|cookie";
/// Built-in names masked when they are the whole field name.
const EXACT: &str = r"pwd|pin|cvv2?|cvc|pan|ssn|iban|card[_-]?(?:number|no)|cc[_-]?(?:number|no)|phone(?:[_-]?(?:number|no))?|mobile|msisdn|e[_-]?mail(?:[_-]?address)?";

/// Plain words every built-in name contains (any case): a document holding none of them
/// holds no field the built-in rules mask, which a literal search tells faster than the
/// patterns do.
pub const NAME_LITERALS: &[&str] = &[
    "passw",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "privatekey",
    "private_key",
    "private-key",
    "authorization",
    "cookie",
    "pwd",
    "pin",
    "cvv",
    "cvc",
    "pan",
    "ssn",
    "iban",
    "card",
    "ccn",
    "cc_",
    "cc-",
    "phone",
    "mobile",
    "msisdn",
    "mail",
];

/// The built-in rule over field and header names.
pub fn default_names() -> Regex {
    Regex::new(&format!("(?i)(?:{CONTAINS})|^(?:{EXACT})$")).expect("built-in names")
}

/// The same names, found as JSON object keys in a document's text: whether a document
/// can hold a field the built-in rule masks, without parsing it.
pub fn default_names_in_json() -> regex::bytes::Regex {
    regex::bytes::Regex::new(&format!(
        r#"(?i)"[^"]*(?:{CONTAINS})[^"]*"\s*:|"(?:{EXACT})"\s*:"#
    ))
    .expect("built-in names in JSON")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "yes")]
    defaults: bool,
    detectors: Option<Vec<String>>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleEntry>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    headers: Vec<String>,
}

/// One segment of a field path: a key (or an array index, as text) or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Name(String),
    Any,
}

/// One `[[rule]]`, compiled.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `None`: every topic.
    pub topics: Option<TopicSelection>,
    pub fields: Vec<Vec<Seg>>,
    pub keys: Vec<Regex>,
    /// Lower case.
    pub headers: Vec<String>,
}

/// The whole configuration, compiled.
#[derive(Clone, Debug)]
pub struct Config {
    pub defaults: bool,
    pub detectors: Vec<Detector>,
    pub rules: Vec<Rule>,
}

impl Default for Config {
    /// The built-in rules and every detector.
    fn default() -> Self {
        Config {
            defaults: true,
            detectors: Detector::ALL.to_vec(),
            rules: Vec::new(),
        }
    }
}

/// An RFC 6901 JSON pointer (`/a/b~1c/*`) as segments.
fn pointer(p: &str) -> Result<Vec<Seg>, String> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!(
            "field {p:?} is not a JSON pointer (it starts with /)"
        ));
    };
    Ok(rest
        .split('/')
        .map(|s| match s {
            "*" => Seg::Any,
            s => Seg::Name(s.replace("~1", "/").replace("~0", "~")),
        })
        .collect())
}

/// Reads a masking file; the error names the rule and the value at fault.
pub fn parse(text: &str) -> Result<Config, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let detectors = match file.detectors {
        Some(names) => names
            .iter()
            .map(|n| Detector::parse(n))
            .collect::<Result<_, _>>()?,
        None if file.defaults => Detector::ALL.to_vec(),
        None => Vec::new(),
    };
    let mut rules = Vec::new();
    for (i, e) in file.rules.into_iter().enumerate() {
        let at = |err: String| format!("rule {}: {err}", i + 1);
        let topics = if e.topics.is_empty() {
            None
        } else {
            Some(TopicSelection::parse(&e.topics).map_err(|err| at(err.to_string()))?)
        };
        let fields = e
            .fields
            .iter()
            .map(|f| pointer(f))
            .collect::<Result<_, _>>()
            .map_err(at)?;
        let keys = e
            .keys
            .iter()
            .map(|k| {
                Regex::new(k)
                    .map_err(|err| format!("keys {k:?} is not a regular expression: {err}"))
            })
            .collect::<Result<_, _>>()
            .map_err(at)?;
        if e.fields.is_empty() && e.keys.is_empty() && e.headers.is_empty() {
            return Err(at("names no fields, keys or headers".into()));
        }
        rules.push(Rule {
            topics,
            fields,
            keys,
            headers: e.headers.iter().map(|h| h.trim().to_lowercase()).collect(),
        });
    }
    Ok(Config {
        defaults: file.defaults,
        detectors,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_names_cover_the_usual_spellings_and_not_their_neighbours() {
        let re = default_names();
        for hit in [
            "password",
            "newPassword",
            "client_secret",
            "accessToken",
            "x-api-key",
            "API_KEY",
            "cardNumber",
            "card_no",
            "CVV",
            "phone",
            "phoneNumber",
            "email",
            "e-mail",
            "emailAddress",
            "Authorization",
            "set-cookie",
        ] {
            assert!(re.is_match(hit), "{hit}");
        }
        for miss in [
            "order_id",
            "shipping",
            "company",
            "pinned",
            "emails_sent",
            "span",
        ] {
            assert!(!re.is_match(miss), "{miss}");
        }
        // Every name the rule masks holds one of the literal words.
        let literal = |name: &str| {
            let lower = name.to_lowercase();
            NAME_LITERALS.iter().any(|w| lower.contains(w))
        };
        for hit in [
            "newPassword",
            "client_secret",
            "x-api-key",
            "cardNumber",
            "CVV",
            "e-mail",
            "pwd",
            "SSN",
            "msisdn",
            "cc_no",
            "ccNumber",
            "Authorization",
            "set-cookie",
            "iban",
        ] {
            assert!(re.is_match(hit) && literal(hit), "{hit}");
        }
        let scan = default_names_in_json();
        assert!(scan.is_match(br#"{"user": {"Password" : "x"}}"#));
        assert!(scan.is_match(br#"{"pin":1234}"#));
        assert!(!scan.is_match(br#"{"pinned":true,"note":"password reset"}"#));
    }

    #[test]
    fn a_file_compiles_or_names_what_is_wrong() {
        let c = parse(
            r#"
            [[rule]]
            topics = ["^shop\\..*"]
            fields = ["/customer/name", "/lines/*/a~1b"]
            keys = ["(?i)^iban$"]
            headers = ["X-Customer-IP"]
            "#,
        )
        .unwrap();
        assert!(c.defaults);
        assert_eq!(c.detectors, Detector::ALL.to_vec());
        let r = &c.rules[0];
        assert_eq!(
            r.fields[1],
            vec![Seg::Name("lines".into()), Seg::Any, Seg::Name("a/b".into())]
        );
        assert_eq!(r.headers, ["x-customer-ip"]);
        let off = parse("defaults = false").unwrap();
        assert!(!off.defaults && off.detectors.is_empty());
        for (bad, says) in [
            (
                "[[rule]]\nfields = [\"customer\"]",
                "rule 1: field \"customer\" is not a JSON pointer",
            ),
            (
                "[[rule]]\nkeys = [\"(\"]",
                "rule 1: keys \"(\" is not a regular expression",
            ),
            (
                "[[rule]]\ntopics = [\"a\"]",
                "rule 1: names no fields, keys or headers",
            ),
            ("detectors = [\"ssn\"]", "unknown detector \"ssn\""),
            ("mask = true", "unknown field `mask`"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
