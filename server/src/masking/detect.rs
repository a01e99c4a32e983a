//! Values that are sensitive whatever field holds them: card numbers, e-mail addresses,
//! international phone numbers, and secrets written out in text (`password=…`,
//! `Bearer …`). Each detector finds its kind inside any text — a JSON string, a header, an
//! exception message, a payload that is not JSON — and replaces only what it found, so
//! "card 4111 1111 1111 1111 declined" still says why it failed.
//!
//! Each kind keeps what an operator needs and no more, as payment and support tools do:
//! a card's last four digits (`****1111`), an address's domain (`****@example.com`), a
//! phone number's last two digits (`+****42`); a secret keeps nothing. Detection is tuned
//! against what an event stream is full of: a card is 14–19 digits starting with 3–6
//! (the networks' ranges; epoch milliseconds have 13 digits, epoch microseconds begin
//! with a 1) and must pass the Luhn check; a phone number must be written
//! internationally (`+` and 7–15 digits), as bare digit runs are ids, amounts and times
//! far more often.

use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a secret, or a field masked whole, is shown as.
pub const MASK: &str = "****";

/// The kinds of value detectors (configuration names them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    Card,
    Email,
    Phone,
    Secret,
}

impl Detector {
    pub const ALL: [Detector; 4] = [
        Detector::Card,
        Detector::Email,
        Detector::Phone,
        Detector::Secret,
    ];

    pub fn parse(name: &str) -> Result<Detector, String> {
        match name.trim() {
            "card" => Ok(Detector::Card),
            "email" => Ok(Detector::Email),
            "phone" => Ok(Detector::Phone),
            "secret" => Ok(Detector::Secret),
            other => Err(format!(
                "unknown detector {other:?} (expected card, email, phone or secret)"
            )),
        }
    }
}

static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[3-6](?:[ -]?[0-9]){13,18}\b").expect("card pattern"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})").expect("email pattern")
});
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+[1-9](?:[ .()-]{0,2}[0-9]){6,14}\b").expect("phone pattern"));
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}|\b((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)"?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+)"#,
    )
    .expect("secret pattern")
});

/// The digits of `s`, when they are a card number by length, range and checksum.
fn card_digits(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let ok = (14..=19).contains(&digits.len()) && (3..=6).contains(&digits[0]) && luhn(&digits);
    ok.then_some(digits)
}

/// The Luhn checksum every card number carries.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `****` and the last four digits.
fn masked_card(digits: &[u8]) -> String {
    let last: String = digits[digits.len() - 4..]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    format!("{MASK}{last}")
}

/// A JSON integer that is a card number, masked (`None`: it is not one).
pub fn card_number(n: u64) -> Option<String> {
    card_digits(&n.to_string()).map(|d| masked_card(&d))
}

/// `text` with every value the `detectors` find in it masked (borrowed when none is).
pub fn mask_text<'a>(text: &'a str, detectors: &[Detector]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for d in detectors {
        let next = match d {
            Detector::Card => CARD.replace_all(&out, |c: &Captures| match card_digits(&c[0]) {
                Some(digits) => masked_card(&digits),
                None => c[0].to_string(),
            }),
            Detector::Email => EMAIL.replace_all(&out, |c: &Captures| format!("{MASK}@{}", &c[1])),
            Detector::Phone => PHONE.replace_all(&out, |c: &Captures| {
                let digits: String = c[0].chars().filter(char::is_ascii_digit).collect();
                format!("+{MASK}{}", &digits[digits.len() - 2..])
            }),
            Detector::Secret => SECRET.replace_all(&out, |c: &Captures| match c.get(1) {
                Some(scheme) => format!("{} {MASK}", scheme.as_str()),
                None => format!("{}{MASK}", &c[2]),
            }),
        };
        if let Cow::Owned(s) = next {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Whether a detector other than the secret one could find something in `text`: a
/// cheap look for the characters each kind needs (`@`; `+`, a digit 1–9 and six more; a
/// long digit run) before the patterns run — never `false` where a pattern would match,
/// and rarely `true` on what events are full of (a time's `+00:00` is not a phone). The secret detector's words are looked for by the
/// caller, with the built-in names', in one pass ([`super::TopicRules::may_need`]).
pub fn may_find_by_characters(text: &[u8], detectors: &[Detector]) -> bool {
    detectors.iter().any(|d| match d {
        Detector::Card => has_digit_run(text, 14),
        Detector::Email => memchr::memchr(b'@', text).is_some(),
        Detector::Phone => memchr::memchr_iter(b'+', text).any(|i| phone_at(&text[i + 1..])),
        Detector::Secret => false,
    })
}

/// Whether `text` holds a word the secret detector starts from.
pub fn has_secret_word(text: &[u8]) -> bool {
    SECRET_WORDS.is_match(text)
}

/// The secret detector's words as plain text, for a literal search that comes first
/// ([`super::TopicRules::may_need`]).
pub const SECRET_WORD_LITERALS: &[&str] = &[
    "bearer",
    "basic",
    "passw",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
];

static SECRET_WORDS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r"(?i)bearer|basic|passw|pwd|secret|token|api[_-]?key|access[_-]?key")
        .expect("secret words")
});

/// Whether what follows a `+` starts as [`PHONE`] needs: a digit 1–9, then at least six
/// digits with at most two of ` .()-` between any two.
fn phone_at(after_plus: &[u8]) -> bool {
    let Some((b'1'..=b'9', rest)) = after_plus.split_first() else {
        return false;
    };
    let (mut digits, mut gap) = (0, 0);
    for &b in rest {
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 6 {
                return true;
            }
            gap = 0;
        } else if matches!(b, b' ' | b'.' | b'(' | b')' | b'-') && gap < 2 {
            gap += 1;
        } else {
            return false;
        }
    }
    false
}

/// Whether `text` holds at least `n` digits in a row, spaces and dashes between them allowed.
///
/// Such a run spans at least `n` bytes, so a run starting anywhere in `i..i + n` covers
/// byte `i + n - 1`: when that byte cannot be part of a run, none starts there and the
/// look jumps `n` bytes ahead. Ordinary text is passed over a byte in `n` or so.
fn has_digit_run(text: &[u8], n: usize) -> bool {
    let n = n.max(1);
    let in_run = |b: u8| b.is_ascii_digit() || b == b' ' || b == b'-';
    let mut i = 0;
    while i + n <= text.len() {
        if !in_run(text[i + n - 1]) {
            i += n;
            continue;
        }
        // Count from `i` until a run is long enough or one breaks past `i + n - 1`.
        let mut run = 0;
        let mut j = i;
        while j < text.len() {
            let b = text[j];
            if b.is_ascii_digit() {
                run += 1;
                if run >= n {
                    return true;
                }
            } else if !in_run(b) {
                run = 0;
                if j >= i + n - 1 {
                    break;
                }
            }
            j += 1;
        }
        i = j + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn may_find(text: &[u8], detectors: &[Detector]) -> bool {
        may_find_by_characters(text, detectors) || has_secret_word(text)
    }

    fn all(text: &str) -> String {
        mask_text(text, &Detector::ALL).into_owned()
    }

    #[test]
    fn cards_keep_their_last_four_and_only_real_cards_are_cards() {
        assert_eq!(all("4111 1111 1111 1111"), "****1111");
        assert_eq!(
            all("card 4111-1111-1111-1111 declined"),
            "card ****1111 declined"
        );
        assert_eq!(all("amex 378282246310005."), "amex ****0005.");
        // Not Luhn-valid, epoch milliseconds, epoch microseconds, an order number.
        for keep in [
            "4111 1111 1111 1112",
            "1733370000000",
            "1733370000000123",
            "order 100000000000000001",
        ] {
            assert_eq!(all(keep), keep);
        }
        assert_eq!(card_number(4111111111111111), Some("****1111".into()));
        assert_eq!(card_number(1733370000000123), None);
    }

    #[test]
    fn emails_keep_their_domain() {
        assert_eq!(
            all("to: jane.doe+shop@mail.example.co.uk, cc ops@example.com"),
            "to: ****@mail.example.co.uk, cc ****@example.com"
        );
        assert_eq!(all("not@an address"), "not@an address");
    }

    #[test]
    fn international_phone_numbers_keep_two_digits() {
        assert_eq!(all("call +44 20 7946 0958 now"), "call +****58 now");
        assert_eq!(all("+1 (415) 555-0132"), "+****32");
        assert_eq!(all("amount +12.50"), "amount +12.50");
    }

    #[test]
    fn secrets_in_text_keep_nothing() {
        assert_eq!(
            all("Authorization: Bearer eyJhbGciOi.abc-def_ghi"),
            "Authorization: Bearer ****"
        );
        assert_eq!(
            all("login failed password=hunter2; token: 'abc def' api_key=\"k-123\""),
            "login failed password=****; token: **** api_key=****"
        );
        assert_eq!(all("tokens were fine"), "tokens were fine");
    }

    #[test]
    fn secrets_in_json_text_cut_short_are_found_too() {
        // A preview of a document cut at 200 bytes cannot be parsed; its secrets still go.
        assert_eq!(
            all(r#"{"user":"u1","password":"hunter2","apiKey": 12345, "cut": "#),
            r#"{"user":"u1","password":****,"apiKey": ****, "cut": "#
        );
    }

    #[test]
    fn masked_text_is_a_fixed_point() {
        let once = all("4111111111111111 a@b.io +442079460958 password=x Bearer abcdefgh");
        assert_eq!(all(&once), once);
    }

    #[test]
    fn the_cheap_look_misses_nothing_the_patterns_find() {
        for text in [
            "4111 1111 1111 1111",
            "a@b.io",
            "+442079460958",
            "call +44 20 7946 0958 now",
            "+1 (415) 555-0132",
            "+49-(0)-30.1234567",
            "password=x",
            "Bearer abcdefgh",
        ] {
            assert!(may_find(text.as_bytes(), &Detector::ALL), "{text}");
            assert_ne!(all(text), text);
        }
        // What events are full of: times with their offset, amounts with a sign.
        for text in [
            r#"{"order_id":"o-1","amount":12.5,"at":1733370000000}"#,
            r#"{"occurred_at":"2026-12-05T10:00:00.123456+00:00","tz":"+05:30"}"#,
            "delta +12.50, +1234 units, +1 234 5",
        ] {
            assert!(!may_find(text.as_bytes(), &Detector::ALL), "{text}");
            assert_eq!(all(text), text);
        }
    }

    #[test]
    fn the_digit_run_look_skips_without_missing_a_run() {
        let naive = |text: &[u8], n: usize| {
            let mut run = 0;
            text.iter().any(|&b| {
                if b.is_ascii_digit() {
                    run += 1;
                } else if b != b' ' && b != b'-' {
                    run = 0;
                }
                run >= n
            })
        };
        let pieces = [b'1', b'7', b' ', b'-', b'x', b'"', b':', b'0'];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..60 {
            for _ in 0..2_000 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        // Mostly digits, so long runs happen.
                        let r = (seed >> 33) as usize;
                        if r.is_multiple_of(3) {
                            pieces[r / 3 % pieces.len()]
                        } else {
                            b'0' + (r % 10) as u8
                        }
                    })
                    .collect();
                for n in [1, 3, 14] {
                    assert_eq!(
                        has_digit_run(&text, n),
                        naive(&text, n),
                        "{n} {:?}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }

    #[test]
    fn the_phone_look_agrees_with_the_pattern() {
        // Texts around the pattern's edges (a fixed pseudo-random walk over its
        // characters): wherever the pattern finds a phone, the look must say so.
        let pieces = [
            b'+', b'0', b'1', b'5', b'9', b' ', b'-', b'(', b')', b'.', b':', b'x',
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let (mut found, mut looked) = (0, 0);
        for _ in 0..200_000 {
            let mut t = vec![b'+'];
            for _ in 0..14 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                t.push(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let text = String::from_utf8(t).unwrap();
            let look = may_find_by_characters(text.as_bytes(), &[Detector::Phone]);
            looked += usize::from(look);
            if PHONE.is_match(&text) {
                found += 1;
                assert!(look, "{text:?}");
            }
        }
        assert!(found > 100, "the walk reaches phones: {found}");
        assert!(
            looked < 2 * found + 1000,
            "the look is close: {looked} for {found}"
        );
    }
}
