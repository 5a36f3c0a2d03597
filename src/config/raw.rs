//! The shape of `ade.toml` as written: every key optional, unknown keys refused. Defaults and
//! checks live in `resolve`, so that one place says what a missing key means.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of sections")]
pub(super) struct RawConfig {
    pub server: RawServer,
    pub database: RawDatabase,
    pub storage: RawStorage,
    pub github: RawGithub,
    pub gitea: RawGitea,
    pub jobs: RawJobs,
    pub policy: crate::policy::ServerPolicy,
    pub runner: super::runner::RawRunner,
    pub agents: std::collections::BTreeMap<String, super::agents::RawAgent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [server] table")]
pub(super) struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [database] table")]
pub(super) struct RawDatabase {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [storage] table")]
pub(super) struct RawStorage {
    pub data_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [github] table")]
pub(super) struct RawGithub {
    pub app_id: Option<u64>,
    pub private_key_file: Option<String>,
    pub webhook_secret: Option<OneOrMany>,
    pub webhook_secret_file: Option<OneOrMany>,
    pub api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [gitea] table")]
pub(super) struct RawGitea {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub webhook_secret: Option<OneOrMany>,
    pub webhook_secret_file: Option<OneOrMany>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [jobs] table")]
pub(super) struct RawJobs {
    pub workers: Option<usize>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub lease_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
}

/// A key that takes one string or a list of them (`webhook_secret = "a"` or `["a", "b"]`).
///
/// Written by hand rather than as an untagged enum so that a wrong type gets a clear message
/// that never repeats the value: these keys hold secrets.
#[derive(Debug, Default)]
pub(super) struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

struct OneOrManyVisitor;

const EXPECTED: &str = "a string or a list of strings";

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![value.to_owned()]))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![value]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element::<String>()? {
            values.push(value);
        }
        Ok(OneOrMany(values))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a boolean"
        )))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<OneOrMany, E> {
        Err(E::custom(format_args!(
            "expected {EXPECTED}, found a number"
        )))
    }
}
