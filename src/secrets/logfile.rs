//! Run logs sealed at rest: a file that is appended to while a run goes on, so it is sealed frame
//! by frame. A sealed log starts with a header naming the key id and a random id of the log
//! (`ADE-SEALED-LOG 1 <key id> <log id>\n`), then frames, each a 4-byte big-endian ciphertext
//! length, a 24-byte nonce of its own and the ciphertext with its tag, bound to the header (so a
//! frame moved from another log does not open). ade's readers tell a sealed log by its header and
//! open it; a log without one is read as it is (docs/secrets.md).
//!
//! A log keeps the form it was started in: one begun in plaintext before sealing was switched on
//! stays plaintext, and one begun sealed is always appended to sealed, under the key its header
//! names (which must still be configured), never in plaintext.

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::key::{Keyring, MasterKey};
use super::seal::{self, NONCE_BYTES, OpenError, SealError, TAG_BYTES};

/// What every sealed log starts with, before its key id and a line end.
pub const MAGIC: &[u8] = b"ADE-SEALED-LOG 1 ";

/// Hex digits of a key id.
const KEY_ID_CHARS: usize = 16;

/// Random bytes of a log's id.
const LOG_ID_BYTES: usize = 16;

/// Bytes of the whole header: the magic, the key id, a space, the log id in hex and `\n`.
const HEADER_BYTES: usize = MAGIC.len() + KEY_ID_CHARS + 1 + 2 * LOG_ID_BYTES + 1;

/// Bytes before a frame's ciphertext: its length and its nonce.
const FRAME_PREFIX: usize = 4 + NONCE_BYTES;

/// The most plaintext one frame carries; longer writes become several frames.
const MAX_FRAME_PLAIN: usize = 1 << 20;

/// Why a log could not be sealed, appended to or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The log.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The log is sealed under a key that is not configured.
    #[error(
        "the run log {} is sealed under key id {key_id}, which is neither the master key nor a \
         previous one: list its key file in secrets.previous_master_key_files",
        path.display()
    )]
    UnknownKey {
        /// The log.
        path: PathBuf,
        /// The key id its header names.
        key_id: String,
    },
    /// A frame did not open, or the file is not a sealed log past its header.
    #[error("the run log {} cannot be opened at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The log.
        path: PathBuf,
        /// Where the bad frame starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Sealing is on but no master key is configured.
    #[error("run logs are to be sealed but no master key is configured (secrets.master_key_file)")]
    NoMasterKey,
    /// A nonce could not be drawn.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Opens a log and reads what would be a sealed log's header (less, for a shorter file).
fn open_with_head(path: &Path) -> Result<(std::fs::File, Vec<u8>), LogError> {
    let io = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    Ok((file, head))
}

/// How ade writes and reads its run logs: sealed under the master key or in plaintext, and with
/// the keys that open logs sealed before. Cheap to clone; the default writes plaintext and opens
/// nothing sealed.
#[derive(Clone, Debug, Default)]
pub struct LogFiles {
    keys: Arc<Keyring>,
    seal: bool,
}

impl LogFiles {
    /// Logs written in plaintext, read with `keys` when sealed (`seal` false), or sealed under the
    /// current key of `keys` (`seal` true, which needs one).
    pub fn new(keys: Arc<Keyring>, seal: bool) -> Result<LogFiles, LogError> {
        if seal && keys.current().is_none() {
            return Err(LogError::NoMasterKey);
        }
        Ok(LogFiles { keys, seal })
    }

    /// Whether new logs are sealed.
    pub fn seals(&self) -> bool {
        self.seal
    }

    /// Gets `path` ready to be appended to (it need not exist) and says how each write is to be
    /// encoded. A sealed log whose last frame was cut short (a crash mid-write) loses that frame
    /// here, so what is appended after it stays readable.
    pub fn appender(&self, path: &Path) -> Result<LogAppender, LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return self.fresh(),
            Err(err) => return Err(io(err)),
        };
        let len = file.metadata().map_err(io)?.len();
        let mut head = Vec::with_capacity(HEADER_BYTES);
        (&mut file)
            .take(HEADER_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
        // A header cut short by a crash is at least "ADE-SEALED"; a plaintext log starts with
        // ade's own "[ade] " lines.
        let started_sealed =
            head.starts_with(MAGIC) || (head.len() >= 10 && MAGIC.starts_with(&head));
        if len == 0 || (started_sealed && head.len() < HEADER_BYTES) {
            // Empty, or a header cut short before anything followed it: begin anew.
            file.set_len(0).map_err(io)?;
            return self.fresh();
        }
        if !started_sealed {
            return Ok(LogAppender::Plain);
        }
        let key = self.key_of(path, &head)?;
        let end = Frames::new(&mut file, path)?.whole_end()?;
        if end < len {
            file.set_len(end).map_err(io)?;
        }
        Ok(LogAppender::Sealed {
            key,
            keys: self.keys.clone(),
            header: head,
            pending_header: false,
        })
    }

    /// The appender of a log that has nothing in it yet.
    fn fresh(&self) -> Result<LogAppender, LogError> {
        let (true, Some(key)) = (self.seal, self.keys.current()) else {
            return Ok(LogAppender::Plain);
        };
        let log_id = &seal::nonce()?[..LOG_ID_BYTES];
        let header = format!(
            "{}{} {}\n",
            String::from_utf8_lossy(MAGIC),
            key.id(),
            hex::encode(log_id)
        );
        Ok(LogAppender::Sealed {
            key: key.id().to_string(),
            keys: self.keys.clone(),
            header: header.into_bytes(),
            pending_header: true,
        })
    }

    /// The key id a sealed log's header names, checked to be one of the keys.
    fn key_of(&self, path: &Path, header: &[u8]) -> Result<String, LogError> {
        let id = &header[MAGIC.len()..MAGIC.len() + KEY_ID_CHARS];
        let log_id = &header[MAGIC.len() + KEY_ID_CHARS + 1..HEADER_BYTES - 1];
        let well_formed = header[MAGIC.len() + KEY_ID_CHARS] == b' '
            && header[HEADER_BYTES - 1] == b'\n'
            && id.iter().chain(log_id).all(u8::is_ascii_hexdigit);
        if !well_formed {
            return Err(LogError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                reason: "its header is not a sealed log's".to_owned(),
            });
        }
        let id = String::from_utf8_lossy(id).into_owned();
        if self.keys.get(&id).is_none() {
            return Err(LogError::UnknownKey {
                path: path.to_path_buf(),
                key_id: id,
            });
        }
        Ok(id)
    }

    /// The first `max` bytes of the log's text (opened if sealed) and whether there was more. A
    /// sealed log's last frame, if it is still being written, is left out.
    pub fn read(&self, path: &Path, max: u64) -> Result<(Vec<u8>, bool), LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let (mut file, head) = open_with_head(path)?;
        if !head.starts_with(MAGIC) {
            let mut bytes = head;
            file.take(max.saturating_add(1).saturating_sub(bytes.len() as u64))
                .read_to_end(&mut bytes)
                .map_err(io)?;
            let cut = bytes.len() as u64 > max;
            bytes.truncate(usize::try_from(max).unwrap_or(usize::MAX));
            return Ok((bytes, cut));
        }
        if head.len() < HEADER_BYTES {
            return Ok((Vec::new(), false));
        }
        let key_id = self.key_of(path, &head)?;
        let key = self.keys.get(&key_id).expect("key_of found it");
        let mut text = Vec::new();
        let mut frames = Frames::new(&mut file, path)?;
        while let Some(frame) = frames.next_frame()? {
            let plain =
                seal::open_with(key, &frame.nonce, &head, &frame.ciphertext).map_err(|reason| {
                    LogError::Corrupt {
                        path: path.to_path_buf(),
                        offset: frame.offset,
                        reason: match reason {
                            OpenError::Tampered => reason.to_string(),
                            OpenError::UnknownKey(_) => unreachable!("the key is given"),
                        },
                    }
                })?;
            text.extend_from_slice(&plain);
            if text.len() as u64 > max {
                text.truncate(usize::try_from(max).unwrap_or(usize::MAX));
                return Ok((text, true));
            }
        }
        Ok((text, false))
    }

    /// The log's text from byte `from` up to byte `max` (opened if sealed) and whether there was
    /// more than `max`: what [`LogFiles::read`] gives, from `from`. A plaintext log is read from
    /// there only, so a reader that follows a growing log reads each byte once; a sealed one is
    /// opened from its start.
    pub fn read_from(&self, path: &Path, from: u64, max: u64) -> Result<(Vec<u8>, bool), LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let (mut file, head) = open_with_head(path)?;
        if from == 0
            || head.starts_with(MAGIC)
            || (head.len() < HEADER_BYTES && MAGIC.starts_with(&head))
        {
            let (bytes, cut) = self.read(path, max)?;
            let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
            return Ok((bytes[start..].to_vec(), cut));
        }
        let from = from.min(max);
        file.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut bytes = Vec::new();
        file.take((max - from).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let cut = bytes.len() as u64 > max - from;
        bytes.truncate(usize::try_from(max - from).unwrap_or(usize::MAX));
        Ok((bytes, cut))
    }

    /// Bytes of text the log holds (its plaintext, for a sealed log): where the next byte
    /// written will be, as a reader of the opened text counts. 0 for a log that is not there.
    pub fn text_len(&self, path: &Path) -> u64 {
        let Ok(mut file) = std::fs::File::open(path) else {
            return 0;
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let mut head = Vec::with_capacity(HEADER_BYTES);
        if (&mut file)
            .take(HEADER_BYTES as u64)
            .read_to_end(&mut head)
            .is_err()
            || !head.starts_with(MAGIC)
        {
            return len;
        }
        let Ok(mut frames) = Frames::new(&mut file, path) else {
            return 0;
        };
        let mut total = 0;
        while let Ok(Some(length)) = frames.skip_frame() {
            total += length.saturating_sub(TAG_BYTES as u64);
        }
        total
    }
}

/// How the writes to one log are encoded.
pub enum LogAppender {
    /// Written as they are.
    Plain,
    /// Each write sealed as one or more frames under the key the header names; the header goes
    /// first when the log is new.
    Sealed {
        /// The key id the header names.
        key: String,
        /// Where that key is.
        keys: Arc<Keyring>,
        /// The header, which every frame is bound to.
        header: Vec<u8>,
        /// Whether the header is still to be written (a new log).
        pending_header: bool,
    },
}

impl std::fmt::Debug for LogAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogAppender::Plain => f.write_str("LogAppender::Plain"),
            LogAppender::Sealed { key, .. } => write!(f, "LogAppender::Sealed(key id {key})"),
        }
    }
}

impl LogAppender {
    /// The bytes to append for `text`: itself for a plaintext log, its frames (after the header,
    /// the first time) for a sealed one.
    pub fn encode<'a>(&mut self, text: &'a [u8]) -> Result<Cow<'a, [u8]>, LogError> {
        let LogAppender::Sealed {
            key,
            keys,
            header,
            pending_header,
        } = self
        else {
            return Ok(Cow::Borrowed(text));
        };
        let key: &MasterKey = keys.get(key).expect("the appender's key is in its keyring");
        let mut out = Vec::with_capacity(text.len() + HEADER_BYTES + FRAME_PREFIX + TAG_BYTES);
        if *pending_header {
            out.extend_from_slice(header);
            *pending_header = false;
        }
        for chunk in text.chunks(MAX_FRAME_PLAIN) {
            let nonce = seal::nonce()?;
            let ciphertext = seal::seal_with(key, &nonce, header, chunk);
            let length = u32::try_from(ciphertext.len()).expect("a frame is at most 1 MiB");
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&ciphertext);
        }
        Ok(Cow::Owned(out))
    }

    /// Whether the log is sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self, LogAppender::Sealed { .. })
    }
}

/// One frame as read: where it starts, its nonce and its ciphertext.
struct Frame {
    offset: u64,
    nonce: [u8; NONCE_BYTES],
    ciphertext: Vec<u8>,
}

/// The frames of a sealed log, read after its header.
struct Frames<'f> {
    file: &'f mut std::fs::File,
    path: &'f Path,
    at: u64,
    len: u64,
}

impl<'f> Frames<'f> {
    fn new(file: &'f mut std::fs::File, path: &'f Path) -> Result<Frames<'f>, LogError> {
        let len = file
            .metadata()
            .map_err(|source| LogError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        Ok(Frames {
            file,
            path,
            at: HEADER_BYTES as u64,
            len,
        })
    }

    fn io(&self, source: std::io::Error) -> LogError {
        LogError::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// The next whole frame's prefix (its ciphertext length and nonce), leaving the file at its
    /// ciphertext; `None` at the end, or before a frame not yet whole.
    fn prefix(&mut self) -> Result<Option<(u64, [u8; NONCE_BYTES])>, LogError> {
        if self.len.saturating_sub(self.at) < FRAME_PREFIX as u64 {
            return Ok(None);
        }
        self.file
            .seek(SeekFrom::Start(self.at))
            .map_err(|e| self.io(e))?;
        let mut prefix = [0u8; FRAME_PREFIX];
        self.file.read_exact(&mut prefix).map_err(|e| self.io(e))?;
        let length = u64::from(u32::from_be_bytes(prefix[..4].try_into().expect("4 bytes")));
        if !(TAG_BYTES as u64..=(MAX_FRAME_PLAIN + TAG_BYTES) as u64).contains(&length) {
            return Err(LogError::Corrupt {
                path: self.path.to_path_buf(),
                offset: self.at,
                reason: format!("a frame claims {length} bytes"),
            });
        }
        if self.len - self.at - (FRAME_PREFIX as u64) < length {
            return Ok(None);
        }
        let nonce = prefix[4..].try_into().expect("24 bytes");
        Ok(Some((length, nonce)))
    }

    /// The next whole frame.
    fn next_frame(&mut self) -> Result<Option<Frame>, LogError> {
        let Some((length, nonce)) = self.prefix()? else {
            return Ok(None);
        };
        let mut ciphertext = vec![0u8; length as usize];
        self.file
            .read_exact(&mut ciphertext)
            .map_err(|e| self.io(e))?;
        let offset = self.at;
        self.at += FRAME_PREFIX as u64 + length;
        Ok(Some(Frame {
            offset,
            nonce,
            ciphertext,
        }))
    }

    /// Steps over the next whole frame; its ciphertext length.
    fn skip_frame(&mut self) -> Result<Option<u64>, LogError> {
        let Some((length, _)) = self.prefix()? else {
            return Ok(None);
        };
        self.at += FRAME_PREFIX as u64 + length;
        Ok(Some(length))
    }

    /// Where the last whole frame ends.
    fn whole_end(mut self) -> Result<u64, LogError> {
        while self.skip_frame()?.is_some() {}
        Ok(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "ade-logfile-{name}-{}-{:x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn keys(current: MasterKey, previous: Vec<MasterKey>) -> Arc<Keyring> {
        Arc::new(Keyring::of(
            Some(("/current".into(), current)),
            previous
                .into_iter()
                .map(|k| ("/previous".into(), k))
                .collect(),
        ))
    }

    fn append(logs: &LogFiles, path: &Path, text: &str) {
        use std::io::Write;
        let mut appender = logs.appender(path).unwrap();
        let bytes = appender.encode(text.as_bytes()).unwrap();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
    }

    #[test]
    fn a_sealed_log_holds_no_plaintext_and_reads_back_whole() {
        let dir = Dir::new("sealed");
        let path = dir.0.join("attempt-1.log");
        let logs = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        append(&logs, &path, "[ade] environment: worktree\n");
        append(&logs, &path, "the agent says hunter2-secret-ish\n");
        append(&logs, &path, "");
        append(&logs, &path, "done\n");
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.starts_with(MAGIC));
        for word in ["environment", "hunter2", "done"] {
            assert!(
                !on_disk.windows(word.len()).any(|w| w == word.as_bytes()),
                "{word} is on disk in plaintext"
            );
        }
        let whole = "[ade] environment: worktree\nthe agent says hunter2-secret-ish\ndone\n";
        let (text, cut) = logs.read(&path, 1 << 20).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), whole);
        assert!(!cut);
        assert_eq!(logs.text_len(&path), whole.len() as u64);
        let (text, cut) = logs.read(&path, 10).unwrap();
        assert_eq!(text, &whole.as_bytes()[..10]);
        assert!(cut);
    }

    #[test]
    fn reading_from_an_offset_gives_the_rest_of_the_text_sealed_or_not() {
        let dir = Dir::new("from");
        let sealed = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        for (name, logs) in [("plain.log", LogFiles::default()), ("sealed.log", sealed)] {
            let path = dir.0.join(name);
            append(&logs, &path, "first line\n");
            append(&logs, &path, "second line\n");
            let (whole, _) = logs.read(&path, 1 << 20).unwrap();
            for from in [0, 1, 11, 23, 24, 99] {
                let start = whole.len().min(from);
                assert_eq!(
                    logs.read_from(&path, from as u64, 1 << 20).unwrap(),
                    (whole[start..].to_vec(), false),
                    "{name} from {from}"
                );
            }
            assert_eq!(
                logs.read_from(&path, 6, 16).unwrap(),
                (b"line\nsecon".to_vec(), true),
                "{name}: up to the cap, cut"
            );
        }
    }

    #[test]
    fn a_plaintext_log_stays_plaintext_and_reads_as_it_is() {
        let dir = Dir::new("plain");
        let path = dir.0.join("attempt-1.log");
        append(&LogFiles::default(), &path, "begun before sealing\n");
        let sealing = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        append(&sealing, &path, "more\n");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "begun before sealing\nmore\n"
        );
        let (text, cut) = sealing.read(&path, 1 << 20).unwrap();
        assert_eq!(text, b"begun before sealing\nmore\n");
        assert!(!cut);
        assert_eq!(
            LogFiles::default().read(&path, 5).unwrap(),
            (b"begun".to_vec(), true)
        );
        assert_eq!(sealing.text_len(&path), 26);
    }

    #[test]
    fn a_sealed_log_is_appended_to_under_its_own_key_after_a_rotation() {
        let dir = Dir::new("rotated");
        let path = dir.0.join("attempt-1.log");
        let old = MasterKey::generate().unwrap();
        let old_bytes = *old.bytes();
        let before = LogFiles::new(keys(old, vec![]), true).unwrap();
        append(&before, &path, "under the old key\n");
        let new = MasterKey::generate().unwrap();
        let after = LogFiles::new(keys(new, vec![MasterKey::from_bytes(old_bytes)]), true).unwrap();
        append(&after, &path, "still under it\n");
        let (text, _) = after.read(&path, 1 << 20).unwrap();
        assert_eq!(text, b"under the old key\nstill under it\n");

        // With the old key gone, neither reading nor appending falls back to anything.
        let without = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        let err = without.read(&path, 1 << 20).unwrap_err();
        assert!(matches!(err, LogError::UnknownKey { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert!(without.appender(&path).is_err());
        let plain = LogFiles::default();
        assert!(matches!(
            plain.read(&path, 100),
            Err(LogError::UnknownKey { .. })
        ));
        assert!(
            plain.appender(&path).is_err(),
            "never appended to in plaintext"
        );
    }

    #[test]
    fn a_changed_frame_is_an_error_naming_the_log_and_a_cut_frame_is_left_out() {
        let dir = Dir::new("tampered");
        let path = dir.0.join("attempt-1.log");
        let logs = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        append(&logs, &path, "first\n");
        append(&logs, &path, "second\n");
        let whole = std::fs::read(&path).unwrap();

        // A frame being written (or cut by a crash) is not read, and is dropped before the next
        // append so that what follows stays readable.
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(logs.read(&path, 100).unwrap().0, b"first\n");
        append(&logs, &path, "third\n");
        assert_eq!(logs.read(&path, 100).unwrap().0, b"first\nthird\n");

        let mut changed = whole.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        let err = logs.read(&path, 100).unwrap_err();
        assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("attempt-1.log"), "{err}");

        // A frame moved from another log under the same key does not open: frames are bound to
        // their log's header.
        let other = dir.0.join("other.log");
        append(&logs, &other, "elsewhere\n");
        let mut spliced = whole.clone();
        spliced.extend_from_slice(&std::fs::read(&other).unwrap()[HEADER_BYTES..]);
        std::fs::write(&path, &spliced).unwrap();
        let err = logs.read(&path, 100).unwrap_err();
        assert!(
            matches!(err, LogError::Corrupt { offset, .. } if offset == whole.len() as u64),
            "{err}"
        );
    }

    #[test]
    fn a_long_write_becomes_several_frames() {
        let dir = Dir::new("long");
        let path = dir.0.join("attempt-1.log");
        let logs = LogFiles::new(keys(MasterKey::generate().unwrap(), vec![]), true).unwrap();
        let text = "x".repeat(MAX_FRAME_PLAIN * 2 + 5);
        append(&logs, &path, &text);
        assert_eq!(logs.read(&path, u64::MAX).unwrap().0.len(), text.len());
        assert_eq!(logs.text_len(&path), text.len() as u64);
    }

    #[test]
    fn sealing_needs_a_key() {
        assert!(matches!(
            LogFiles::new(Arc::new(Keyring::empty()), true),
            Err(LogError::NoMasterKey)
        ));
    }
}
