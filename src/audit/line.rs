//! One record as a line of JSON, and the hash that chains it to the next.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One audit record as written: its place in the chain (`seq`, `prev`), then what it says. The
/// line's SHA-256 is the next record's `prev`; fields are written in this order, empty ones left
/// out (docs/audit.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its place in the chain, from 1, one more than the record before it.
    pub seq: i64,
    /// The SHA-256 (hex) of the line of the record before it.
    pub prev: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// Who: a forge login, `ade`, or an operating-system user.
    pub actor: String,
    /// `user`, `ade` or `operator`.
    pub actor_kind: String,
    /// What, as a dotted name.
    pub action: String,
    /// The thing acted on.
    pub subject: String,
    /// `github` or `gitea`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<String>,
    /// `owner/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The goal's issue number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<i64>,
    /// The spec's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<i64>,
    /// The task's id in its spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    /// The rest, sanitized and with secrets masked.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl Record {
    /// The line as written, without its newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }
}

/// The hash of a line (without its newline), as the next record's `prev` holds it.
pub fn hash(line: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(line);
    let mut hex = Vec::with_capacity(64);
    for byte in digest {
        hex.push(DIGITS[usize::from(byte >> 4)]);
        hex.push(DIGITS[usize::from(byte & 0xf)]);
    }
    String::from_utf8(hex).expect("hex digits are ASCII")
}

/// The two fields a verifier needs of a line, read without the rest.
#[derive(Debug, Deserialize)]
pub struct Link {
    /// The record's place.
    pub seq: i64,
    /// The hash it says its predecessor has.
    pub prev: String,
    /// When, as written.
    #[serde(default)]
    pub time: String,
}

impl Link {
    /// Reads the link of a line, or says why it is not a record.
    pub fn read(line: &[u8]) -> Result<Link, String> {
        if let Some(link) = Link::as_written(line) {
            return Ok(link);
        }
        let link: Link = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        if link.seq < 1 {
            return Err(format!("seq {} is not a record's place", link.seq));
        }
        if link.prev.len() != 64 || !link.prev.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("prev is not a SHA-256 in hex".into());
        }
        Ok(link)
    }

    /// The link of a line that starts as ade writes one (`{"seq":N,"prev":"<64 hex>","time":"…"`),
    /// read without parsing the rest; anything else is left to the JSON parser. Reading less is
    /// safe: the line's hash, which the next record holds, covers every byte of it.
    fn as_written(line: &[u8]) -> Option<Link> {
        let rest = line.strip_prefix(b"{\"seq\":")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 18 || rest[0] == b'0' {
            return None;
        }
        let seq: i64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        let rest = rest[digits..].strip_prefix(b",\"prev\":\"")?;
        let prev = rest.get(..64)?;
        if !prev.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let rest = rest[64..].strip_prefix(b"\",\"time\":\"")?;
        let time = rest.get(..rest.iter().position(|&b| b == b'"')?)?;
        if time.contains(&b'\\') {
            return None;
        }
        Some(Link {
            seq,
            prev: String::from_utf8(prev.to_vec()).ok()?,
            time: String::from_utf8(time.to_vec()).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> Record {
        Record {
            seq,
            prev: crate::store::audit::GENESIS.into(),
            time: "2026-12-06T10:00:00.000Z".into(),
            actor: "alice".into(),
            actor_kind: "user".into(),
            action: "command.accepted".into(),
            subject: "issue #12".into(),
            forge: Some("github".into()),
            repository: Some("acme/widgets".into()),
            goal: Some(12),
            spec_version: None,
            task: None,
            run: None,
            outcome: "ok".into(),
            details: Map::new(),
        }
    }

    #[test]
    fn lines_keep_field_order_and_leave_empty_fields_out() {
        let line = record(1).to_line();
        assert!(line.starts_with(r#"{"seq":1,"prev":"000"#), "{line}");
        assert!(
            !line.contains("spec_version") && !line.contains("details"),
            "{line}"
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record(1));
    }

    #[test]
    fn links_refuse_what_is_not_a_record() {
        assert_eq!(Link::read(record(3).to_line().as_bytes()).unwrap().seq, 3);
        assert!(Link::read(b"{\"seq\":0,\"prev\":\"00\"}").is_err());
        assert!(Link::read(b"not json").is_err());
        let bad_prev = record(2).to_line().replace("\"prev\":\"0", "\"prev\":\"x");
        assert!(Link::read(bad_prev.as_bytes()).is_err());
    }

    #[test]
    fn lines_as_written_are_read_as_the_parser_reads_them() {
        let line = record(42).to_line();
        let fast = Link::as_written(line.as_bytes()).expect("as ade writes it");
        let parsed: Link = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (fast.seq, &fast.prev, &fast.time),
            (parsed.seq, &parsed.prev, &parsed.time)
        );
        // Other shapes fall back to the parser, which judges them.
        for other in [
            line.replacen("{\"seq\":42", "{ \"seq\":42", 1),
            line.replacen("{\"seq\":42", "{\"seq\":042", 1),
            line.replacen("\"time\":\"", "\"time\" :\"", 1),
        ] {
            assert!(Link::as_written(other.as_bytes()).is_none(), "{other}");
        }
        assert_eq!(
            Link::read(line.replacen("{\"seq\":42", "{ \"seq\":42", 1).as_bytes())
                .unwrap()
                .seq,
            42
        );
    }

    #[test]
    fn the_hash_is_the_lines_sha256() {
        assert_eq!(
            hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
