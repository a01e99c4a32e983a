//! The user's own librdkafka properties, given to every client Switchyard makes (consumer,
//! producer, admin): how the console reaches a cluster it did not create — TLS, SASL
//! (SCRAM, PLAIN, OAUTHBEARER/OIDC), client certificates, timeouts.
//!
//! Two sources, the second winning over the first, key by key:
//! 1. `KAFKA_PROPERTIES_FILE`: a `key=value` file as Kafka's own tools take (`#` and `!`
//!    start comments; blank lines are skipped);
//! 2. environment variables `KAFKA_PROPERTY_<NAME>`, the property name upper-cased with
//!    dots as underscores (`KAFKA_PROPERTY_SASL_MECHANISMS=SCRAM-SHA-512`); with a `_FILE`
//!    suffix the value is read from that file (`KAFKA_PROPERTY_SASL_PASSWORD_FILE=/run/secrets/kafka`),
//!    the way container secrets are mounted.
//!
//! Secrets are never logged and never shown: [`Properties::masked`] is the only view of the
//! values that leaves this module for people.

use std::path::Path;
use std::sync::OnceLock;

/// The file of `key=value` properties.
pub const FILE_VAR: &str = "KAFKA_PROPERTIES_FILE";
/// Prefix of one-property environment variables.
pub const ENV_PREFIX: &str = "KAFKA_PROPERTY_";

/// Properties the console sets itself because its guarantees rest on them (exactly-once
/// ingest, replays without duplicates): a user's value for them is refused at start, with
/// the reason, rather than silently overridden.
const OWNED: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "acks",
    "isolation.level",
];

/// What the masked view shows for a secret.
pub const MASK: &str = "******";

/// librdkafka properties in the order given (later keys replace earlier ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// From the process environment (see the module doc).
    pub fn from_env() -> anyhow::Result<Properties> {
        let file = std::env::var_os(FILE_VAR).map(std::path::PathBuf::from);
        Properties::from_sources(file.as_deref(), std::env::vars())
    }

    /// From a properties file (if any) and then `KAFKA_PROPERTY_*` variables among `vars`.
    pub fn from_sources(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Properties> {
        let mut props = Properties::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {FILE_VAR} {}: {e}", path.display()))?;
            props.extend_from_text(&text, &path.display().to_string())?;
        }
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.len() > ENV_PREFIX.len())
            .collect();
        vars.sort();
        for (var, value) in vars {
            let name = &var[ENV_PREFIX.len()..];
            let (name, value) = match name.strip_suffix("_FILE") {
                Some(base) => (base, read_secret_file(&var, &value)?),
                None => (name, value),
            };
            props.set(&name.to_ascii_lowercase().replace('_', "."), &value)?;
        }
        Ok(props)
    }

    /// Adds `key=value` lines (Java properties, the subset Kafka's tools use).
    fn extend_from_text(&mut self, text: &str, source: &str) -> anyhow::Result<()> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                anyhow::bail!("{source} line {}: expected key=value", n + 1);
            };
            self.set(key.trim(), value.trim())
                .map_err(|e| anyhow::anyhow!("{source} line {}: {e}", n + 1))?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            anyhow::bail!("{key:?} is not a librdkafka property name");
        }
        if OWNED.contains(&key) {
            anyhow::bail!("{key} is set by Switchyard itself (its delivery guarantees rest on it)");
        }
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_string(), value.to_string()));
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every property, for a client's configuration. Not for display: see [`Self::masked`].
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every property with secret values replaced by [`MASK`]: what logs and pages show.
    pub fn masked(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret(k) {
                    MASK.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }

    /// The security protocol in use (librdkafka's default is plaintext).
    pub fn security_protocol(&self) -> String {
        self.get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_uppercase()
    }
}

/// Whether a property's value is a secret: passwords, client secrets, private keys given
/// inline, and any JAAS-style or OAUTHBEARER configuration string (which embeds secrets).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("secret")
        || k == "ssl.key.pem"
        || k == "ssl_key"
        || k.ends_with(".jaas.config")
        || k == "sasl.oauthbearer.config"
}

fn read_secret_file(var: &str, path: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {var} ({path}): {e}"))?;
    // A trailing newline is how editors and `echo` end files, never part of a secret.
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

static GLOBAL: OnceLock<Result<Properties, String>> = OnceLock::new();

/// This process's properties, read from the environment once. An error (an unreadable
/// file, a property the console owns) is returned every time, so whoever starts first
/// reports it.
pub fn global() -> anyhow::Result<&'static Properties> {
    GLOBAL
        .get_or_init(|| Properties::from_env().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("Kafka client properties: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn file_then_environment_key_by_key() {
        let dir = std::env::temp_dir().join(format!("sy-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(
            &file,
            "# a comment\n! another\n\nsecurity.protocol=SASL_SSL\nsasl.mechanisms = SCRAM-SHA-512\nsasl.username=ops\n",
        )
        .unwrap();
        let secret = dir.join("password");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let props = Properties::from_sources(
            Some(&file),
            vars(&[
                ("KAFKA_PROPERTY_SASL_USERNAME", "switchyard"),
                (
                    "KAFKA_PROPERTY_SASL_PASSWORD_FILE",
                    secret.to_str().unwrap(),
                ),
                ("KAFKA_BROKERS", "ignored:9092"),
            ]),
        )
        .unwrap();
        assert_eq!(props.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(props.get("sasl.mechanisms"), Some("SCRAM-SHA-512"));
        assert_eq!(props.get("sasl.username"), Some("switchyard"));
        assert_eq!(props.get("sasl.password"), Some("s3cret"));
        assert_eq!(props.security_protocol(), "SASL_SSL");
        let shown = props.masked();
        assert!(shown.contains(&("sasl.password".into(), MASK.into())));
        assert!(shown.contains(&("sasl.username".into(), "switchyard".into())));
        assert!(!format!("{shown:?}").contains("s3cret"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_input_is_refused_with_its_place() {
        let dir = std::env::temp_dir().join(format!("sy-props-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.properties");
        std::fs::write(&file, "security.protocol=SSL\nthis line has no separator\n").unwrap();
        let e = Properties::from_sources(Some(&file), vec![]).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = Properties::from_sources(Some(&dir.join("absent")), vec![]).unwrap_err();
        assert!(
            e.to_string().contains("cannot read KAFKA_PROPERTIES_FILE"),
            "{e}"
        );
        let e =
            Properties::from_sources(None, vars(&[("KAFKA_PROPERTY_GROUP_ID", "x")])).unwrap_err();
        assert!(e.to_string().contains("set by Switchyard"), "{e}");
        let e = Properties::from_sources(
            None,
            vars(&[("KAFKA_PROPERTY_SASL_PASSWORD_FILE", "/nonexistent/secret")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("KAFKA_PROPERTY_SASL_PASSWORD_FILE"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn secrets_are_recognised() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
            "sasl.oauthbearer.config",
        ] {
            assert!(is_secret(k), "{k}");
        }
        for k in [
            "sasl.username",
            "ssl.ca.location",
            "security.protocol",
            "ssl.key.location",
        ] {
            assert!(!is_secret(k), "{k}");
        }
    }
}
