//! A step's output as it streams: the runner hands every chunk to a [`StepOutput`] (all of it,
//! also what the run log's cap drops), which keeps the real end of the output for the tail and
//! the lines that look like file and line messages for the annotations. Memory stays bounded
//! however much a step writes, and a flood costs a scan, not an allocation per line.

use super::annotations::{Candidate, Candidates};
use super::tail::{LONG_LINE, TAIL_LINES};

/// Bytes of the end of the output kept for the tail; the tail shows at most [`TAIL_LINES`]
/// lines of it.
pub const TAIL_BYTES: usize = 64 * 1024;

/// Bytes of one line read for annotations; the rest of a longer line is not looked at.
const LINE_BYTES: usize = 4096;

/// What a step's output left, once it has ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The last lines, raw (not cleaned, not masked): for [`super::tail::clean_lines`].
    pub tail: Vec<String>,
    /// Lines shaped like file and line messages: for [`super::annotations::resolve`].
    pub candidates: Vec<Candidate>,
    /// Bytes seen.
    pub bytes: u64,
}

/// Reads one step's output as it comes; see the module docs.
#[derive(Debug)]
pub struct StepOutput {
    /// The end of the output: at most `2 * TAIL_BYTES`, cut back to `TAIL_BYTES` when full.
    end: Vec<u8>,
    /// Whether `end` lost its beginning (the output's first byte is not in it).
    cut: bool,
    /// The line being read for annotations, up to [`LINE_BYTES`].
    line: Vec<u8>,
    candidates: Candidates,
    bytes: u64,
}

impl StepOutput {
    /// Output of a step run in `worktree` (its absolute path, for absolute paths in messages).
    pub fn new(worktree: &str) -> StepOutput {
        StepOutput {
            end: Vec::new(),
            cut: false,
            line: Vec::new(),
            candidates: Candidates::new(worktree),
            bytes: 0,
        }
    }

    /// Takes the next chunk of output.
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.keep_end(chunk);
        if self.candidates.wants_more() {
            self.read_lines(chunk);
        }
    }

    fn keep_end(&mut self, chunk: &[u8]) {
        let chunk = if chunk.len() > TAIL_BYTES {
            self.cut = true;
            self.end.clear();
            &chunk[chunk.len() - TAIL_BYTES..]
        } else {
            chunk
        };
        self.end.extend_from_slice(chunk);
        if self.end.len() > 2 * TAIL_BYTES {
            self.cut = true;
            self.end.drain(..self.end.len() - TAIL_BYTES);
        }
    }

    fn read_lines(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            self.take_part(&rest[..at]);
            self.candidates.line(&self.line);
            self.line.clear();
            rest = &rest[at + 1..];
        }
        self.take_part(rest);
    }

    fn take_part(&mut self, part: &[u8]) {
        let room = LINE_BYTES.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }

    /// What the output left: its last lines and its candidates. A last line begun before the
    /// kept end is dropped (its beginning is gone); if that leaves nothing, the tail says so.
    pub fn finish(mut self) -> Observed {
        if !self.line.is_empty() {
            self.candidates.line(&self.line);
        }
        let start = if self.end.len() > TAIL_BYTES {
            self.end.len() - TAIL_BYTES
        } else {
            0
        };
        let mut kept = &self.end[start..];
        let cut = if start > 0 {
            self.end[start - 1] != b'\n'
        } else {
            self.cut
        };
        if cut {
            kept = match kept.iter().position(|b| *b == b'\n') {
                Some(at) => &kept[at + 1..],
                None => &[],
            };
        }
        let text = String::from_utf8_lossy(kept);
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        if text.ends_with('\n') || text.is_empty() {
            lines.pop();
        }
        if cut && lines.is_empty() {
            lines.push(LONG_LINE.to_string());
        }
        let first = lines.len().saturating_sub(TAIL_LINES);
        Observed {
            tail: lines.split_off(first),
            candidates: self.candidates.into_vec(),
            bytes: self.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(chunks: &[&[u8]]) -> Observed {
        let mut output = StepOutput::new("/wt");
        for chunk in chunks {
            output.push(chunk);
        }
        output.finish()
    }

    #[test]
    fn lines_split_across_chunks_are_read_whole() {
        let observed = observe(&[b"first\nsrc/li", b"b.rs:3", b":5: bad\nlast"]);
        assert_eq!(observed.tail, ["first", "src/lib.rs:3:5: bad", "last"]);
        assert_eq!(observed.candidates.len(), 1);
        assert_eq!(observed.candidates[0].path, "src/lib.rs");
        assert_eq!(observed.bytes, 30);
    }

    #[test]
    fn a_flood_leaves_its_real_end() {
        let mut output = StepOutput::new("/wt");
        let block = b"flood flood flood flood flood flood flood\n".repeat(1000);
        for _ in 0..200 {
            output.push(&block);
        }
        output.push(b"the end: 1 failed\n");
        let observed = output.finish();
        assert_eq!(observed.tail.len(), TAIL_LINES);
        assert_eq!(observed.tail.last().unwrap(), "the end: 1 failed");
        assert!(
            observed.tail[..TAIL_LINES - 1]
                .iter()
                .all(|l| l.starts_with("flood"))
        );
        assert_eq!(observed.bytes, 200 * block.len() as u64 + 18);
    }

    #[test]
    fn a_huge_last_line_is_not_shown_in_pieces() {
        let observed = observe(&[b"before\n", &vec![b'x'; 3 * TAIL_BYTES]]);
        assert_eq!(observed.tail, [LONG_LINE]);
        let observed = observe(&[&vec![b'x'; 3 * TAIL_BYTES], b"\nafter\n"]);
        assert_eq!(observed.tail, ["after"]);
    }

    #[test]
    fn a_partial_first_line_of_the_kept_end_is_dropped() {
        let mut output = StepOutput::new("/wt");
        output.push(b"SECRET-START");
        output.push(&vec![b'y'; TAIL_BYTES]);
        output.push(b"\nshown\n");
        let observed = output.finish();
        assert_eq!(observed.tail, ["shown"]);
    }

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(observe(&[b"a\n\nb\n"]).tail, ["a", "", "b"]);
        assert!(observe(&[]).tail.is_empty());
    }

    #[test]
    fn long_lines_are_read_for_annotations_from_their_start() {
        let mut line = b"src/a.rs:1: long ".to_vec();
        line.extend(vec![b'z'; 10 * LINE_BYTES]);
        line.push(b'\n');
        let observed = observe(&[&line, b"src/b.rs:2: next\n"]);
        let paths: Vec<&str> = observed
            .candidates
            .iter()
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(paths, ["src/a.rs", "src/b.rs"]);
    }
}
