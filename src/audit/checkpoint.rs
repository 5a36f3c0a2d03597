//! Signed checkpoints: "record `seq` of the chain has hash `head`", signed with ade's Ed25519 key
//! at an interval and at shutdown, and kept outside the log folder (a file of their own and the
//! database), so a chain whose tail was cut, or rewritten whole, no longer matches them.

use super::signing::{PublicKey, SigningKey};
use crate::clock::rfc3339_ms;
pub use crate::store::audit::Checkpoint;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

impl Checkpoint {
    /// Signs a checkpoint of record `seq` with hash `head`.
    pub fn sign(
        key: &SigningKey,
        seq: i64,
        head: &str,
        signed_at: i64,
        every_secs: i64,
    ) -> Checkpoint {
        let statement = statement(seq, head, signed_at, every_secs);
        Checkpoint {
            seq,
            head: head.to_owned(),
            signed_at,
            every_secs,
            key_id: key.public().id(),
            signature: key.sign(statement.as_bytes()),
        }
    }

    /// The text that is signed: every field but the signature, one per line.
    pub fn statement(&self) -> String {
        statement(self.seq, &self.head, self.signed_at, self.every_secs)
    }

    /// Whether `key` signed it.
    pub fn signed_by(&self, key: &PublicKey) -> bool {
        self.key_id == key.id() && key.verifies(self.statement().as_bytes(), &self.signature)
    }
}

fn statement(seq: i64, head: &str, signed_at: i64, every_secs: i64) -> String {
    format!(
        "ade audit checkpoint\nseq {seq}\nhead {head}\nsigned {}\nevery {every_secs}\n",
        rfc3339_ms(signed_at)
    )
}

/// Appends a checkpoint to the checkpoints file (created owner-only) and syncs it.
pub fn append(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    // A crash in the middle of an earlier append left half a line: cut it, or this line would be
    // glued to it.
    let text = std::fs::read(path)?;
    if !text.is_empty() && !text.ends_with(b"\n") {
        let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        file.set_len(keep as u64)?;
    }
    let mut line = serde_json::to_string(checkpoint).expect("a checkpoint serializes");
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// The checkpoints a file holds; a missing file holds none. A line that is not a checkpoint is
/// an error naming it, since a verifier must not skip what it cannot read.
pub fn read(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut { file }, &mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // A last line without its newline was cut short by a crash; the next append removes it.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut out = Vec::new();
    for (n, line) in whole.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let checkpoint = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a checkpoint ({e})", path.display(), n + 1))?;
        out.push(checkpoint);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let dir = super::super::Scratch::new();
        let key = SigningKey::generate(&dir.path().join("k.pem")).unwrap();
        let checkpoint = Checkpoint::sign(&key, 41, &"ab".repeat(32), 1_765_000_000_000, 600);
        assert!(checkpoint.signed_by(&key.public()));
        let mut moved = checkpoint.clone();
        moved.seq = 40;
        assert!(
            !moved.signed_by(&key.public()),
            "a changed seq breaks the signature"
        );
        let other = SigningKey::generate(&dir.path().join("other.pem")).unwrap();
        assert!(!checkpoint.signed_by(&other.public()));

        let file = dir.path().join("outside/checkpoints.jsonl");
        append(&file, &checkpoint).unwrap();
        append(&file, &moved).unwrap();
        assert_eq!(read(&file).unwrap(), vec![checkpoint.clone(), moved]);
        assert!(read(&dir.path().join("none.jsonl")).unwrap().is_empty());
        // Half a line from a crash: read past, then cut by the next append.
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("{\"seq\":");
        std::fs::write(&file, &text).unwrap();
        assert_eq!(read(&file).unwrap().len(), 2);
        append(&file, &checkpoint).unwrap();
        assert_eq!(read(&file).unwrap().len(), 3);
        std::fs::write(&file, "{\"seq\":\n").unwrap();
        assert!(read(&file).unwrap_err().contains("checkpoints.jsonl:1"));
    }
}
