//! Reading `ade.toml` and the `ADE_<SECTION>__<KEY>` environment overrides into the raw shape,
//! with errors that name the full key and where its value came from.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat};

use super::check::Origins;
use super::raw::RawConfig;
use super::{Config, ConfigError, Origin, resolve};
use crate::policy::suggest::{closest, unknown_field};

const ENV_PREFIX: &str = "ADE_";
const ENV_SEPARATOR: &str = "__";

/// Variables that set a key without the `ADE_<SECTION>__<KEY>` shape, by the name operators
/// expect (docs/secrets.md), with the variable of that shape they stand for.
const ALIASES: &[(&str, &str)] = &[("ADE_MASTER_KEY_FILE", "ADE_SECRETS__MASTER_KEY_FILE")];

impl Config {
    /// Reads the configuration once at start: the TOML file at `path` if one is given (a missing
    /// file is an error, never a silent fall back to defaults), then every `ADE_<SECTION>__<KEY>`
    /// variable of `env` on top, then defaults for what is still unset. Secret files are read
    /// here too, so a process that starts has everything it needs.
    ///
    /// `env` is passed in rather than read so tests control it; the binary passes
    /// `std::env::vars()`. Other `ADE_*` variables (`ADE_CONFIG`, `ADE_LOG`, ...) are not keys
    /// and are left alone.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let overrides = Overrides::from_env(env.clone())?;
        let origins = Origins::new(path.map(Path::to_path_buf), overrides.keys);

        let mut builder = config::Config::builder();
        if let Some(path) = path {
            let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let environment = Environment::with_prefix("ade")
            .prefix_separator("_")
            .separator(ENV_SEPARATOR)
            .source(Some(overrides.vars));
        let merged = builder
            .add_source(environment)
            .build()
            .map_err(|err| build_error(path, err))?;

        let raw: RawConfig =
            serde_path_to_error::deserialize(merged).map_err(|err| serde_error(&origins, err))?;
        resolve::resolve(raw, &origins, &env)
    }
}

impl Default for Config {
    /// The configuration with no file and no overrides: one machine, SQLite under `./ade-data`,
    /// no forge secrets. Handy for tests of other modules.
    fn default() -> Config {
        Config::load(None, std::iter::empty()).expect("the built-in defaults are valid")
    }
}

/// The environment variables that are configuration overrides.
struct Overrides {
    /// Variable name → value, as the `config` crate's environment source takes them.
    vars: config::Map<String, String>,
    /// Dotted key (`server.listen`) → the variable that sets it.
    keys: BTreeMap<String, String>,
}

impl Overrides {
    /// Picks out the variables of the shape `ADE_<SECTION>__<KEY>`. A variable with the `__` but
    /// not exactly one section and one key is refused as an unknown key, since it was plainly
    /// meant as an override.
    fn from_env(env: impl IntoIterator<Item = (String, String)>) -> Result<Overrides, ConfigError> {
        let mut vars = config::Map::new();
        let mut keys = BTreeMap::<String, String>::new();
        for (name, value) in env {
            let alias = ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, stands_for)| *stands_for);
            let Some(rest) = alias.unwrap_or(&name).strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if !rest.contains(ENV_SEPARATOR) {
                continue;
            }
            let key = rest.to_lowercase().replace(ENV_SEPARATOR, ".");
            let well_formed = key.split('.').count() == 2
                && key.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            if !well_formed {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: Origin::Env(name),
                    hint: None,
                });
            }
            if let Some(other) = keys.get(&key) {
                return Err(ConfigError::Invalid {
                    reason: format!("set by both {other} and {name}"),
                    key,
                    origin: Origin::Default,
                });
            }
            keys.insert(key, name.clone());
            vars.insert(alias.map_or(name, str::to_owned), value);
        }
        Ok(Overrides { vars, keys })
    }
}

/// Turns serde's error into ours, naming the full key and where its value came from.
fn serde_error(
    origins: &Origins,
    err: serde_path_to_error::Error<config::ConfigError>,
) -> ConfigError {
    let path = err.path().to_string();
    let reason = describe(err.inner());
    let Some((field, expected)) = unknown_field(&reason) else {
        return ConfigError::Invalid {
            origin: origins.of(&path),
            key: path,
            reason,
        };
    };
    let parent = match path.rsplit_once('.') {
        _ if path == "." || path == field => None,
        Some((parent, last)) if last == field => Some(parent.to_owned()),
        _ => Some(path.clone()),
    };
    let dotted = |name: &str| match &parent {
        Some(parent) => format!("{parent}.{name}"),
        None => name.to_owned(),
    };
    let written = dotted(field);
    let (key, origin) = origins.locate(&written);
    let below = key.strip_prefix(&written).unwrap_or("").to_owned();
    let hint = closest(field, expected.iter().copied()).map(|known| dotted(known) + &below);
    ConfigError::UnknownKey { key, origin, hint }
}

/// The `config` crate's message without the key and origin it sometimes appends: ours says both.
fn describe(err: &config::ConfigError) -> String {
    match err {
        config::ConfigError::Type {
            unexpected,
            expected,
            ..
        } => format!("invalid type: {unexpected}, expected {expected}"),
        config::ConfigError::At { error, .. } => describe(error),
        other => other.to_string(),
    }
}

/// Turns a failure of the `config` crate's merge (in practice a TOML syntax error) into ours.
fn build_error(path: Option<&Path>, err: config::ConfigError) -> ConfigError {
    let text = match &err {
        config::ConfigError::FileParse { cause, .. } => cause.to_string(),
        other => describe(other),
    };
    let (position, message) = toml_error(&text);
    ConfigError::Syntax {
        path: path.map_or_else(|| PathBuf::from("environment"), Path::to_path_buf),
        position,
        message,
    }
}

/// Splits the TOML parser's report into position and message, dropping the quoted source line
/// and caret in between: that line may hold a secret.
fn toml_error(text: &str) -> (Option<(usize, usize)>, String) {
    let mut lines = text.lines();
    let position = text
        .lines()
        .next()
        .and_then(|first| first.strip_prefix("TOML parse error at line "))
        .and_then(|rest| rest.split_once(", column "))
        .and_then(|(line, column)| Some((line.parse().ok()?, column.trim().parse().ok()?)));
    if position.is_some() {
        lines.next();
    }
    let message = lines
        .filter(|line| {
            let trimmed = line.trim_start();
            let gutter = trimmed.trim_start_matches(|c: char| c.is_ascii_digit());
            !(trimmed.is_empty() || gutter.starts_with('|') || gutter.starts_with(" |"))
        })
        .collect::<Vec<_>>()
        .join("; ");
    (position, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_error_keeps_position_and_message_but_not_the_source_line() {
        let text = "TOML parse error at line 3, column 18\n  |\n3 | webhook_secret = \"s3cr3t\n  |                  ^\ninvalid basic string, expected `\"`\n";
        let (position, message) = toml_error(text);
        assert_eq!(position, Some((3, 18)));
        assert_eq!(message, "invalid basic string, expected `\"`");
    }

    #[test]
    fn overrides_take_only_the_section_key_shape() {
        let env = [
            ("ADE_CONFIG", "/etc/ade.toml"),
            ("ADE_LOG", "debug"),
            ("ADE_TEST_DATABASE_URL", "postgres://x"),
            ("ADE_SERVER__LISTEN", "0.0.0.0:80"),
            ("GITHUB__TOKEN", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let overrides = Overrides::from_env(env).unwrap();
        assert_eq!(
            overrides.keys.into_iter().collect::<Vec<_>>(),
            [("server.listen".to_owned(), "ADE_SERVER__LISTEN".to_owned())]
        );
    }

    #[test]
    fn ade_master_key_file_sets_the_master_key_file_and_cannot_be_set_twice() {
        let env = [("ADE_MASTER_KEY_FILE".to_owned(), "/k".to_owned())];
        let overrides = Overrides::from_env(env).unwrap();
        assert_eq!(
            overrides.keys.into_iter().collect::<Vec<_>>(),
            [(
                "secrets.master_key_file".to_owned(),
                "ADE_MASTER_KEY_FILE".to_owned()
            )]
        );
        assert_eq!(
            overrides
                .vars
                .get("ADE_SECRETS__MASTER_KEY_FILE")
                .map(String::as_str),
            Some("/k")
        );
        let both = [
            ("ADE_MASTER_KEY_FILE".to_owned(), "/k".to_owned()),
            ("ADE_SECRETS__MASTER_KEY_FILE".to_owned(), "/j".to_owned()),
        ];
        let err = Overrides::from_env(both).err().unwrap();
        assert_eq!(err.key(), Some("secrets.master_key_file"));
        assert!(err.to_string().contains("set by both"), "{err}");
    }

    #[test]
    fn a_deeper_override_is_an_unknown_key() {
        let env = [("ADE_SERVER__TLS__CERT".to_owned(), "x".to_owned())];
        let err = Overrides::from_env(env).err().unwrap();
        assert_eq!(err.key(), Some("server.tls.cert"));
    }
}
