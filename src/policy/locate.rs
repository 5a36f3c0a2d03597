//! Where things are in a policy file: dotted key paths, and the line and column each key was
//! written at, so every diagnostic points at the place to fix.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A 1-based line and column (counted in characters) in a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to its end).
    pub(crate) fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A key as a user would write it to find it again: `verification.steps[1].timeout_secs`, with
/// keys that are not bare TOML keys quoted (`roles.users."bob.smith"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The path of dotted keys, e.g. `KeyPath::of(&["execution", "parallelism"])`.
    pub(crate) fn of(keys: &[&str]) -> KeyPath {
        KeyPath(keys.iter().map(|k| Segment::Key((*k).to_owned())).collect())
    }

    /// This path with one more key.
    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path with one more array index.
    pub(crate) fn index(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    pub(crate) fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub(crate) fn parent(&self) -> Option<KeyPath> {
        let (_, rest) = self.0.split_last()?;
        Some(KeyPath(rest.to_vec()))
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The position of every key and array element of one parsed file, by key path.
#[derive(Clone, Debug, Default)]
pub(crate) struct Locations {
    source: String,
    positions: BTreeMap<KeyPath, Position>,
}

impl Locations {
    /// Records where each key of `root` (parsed from `text`) was written.
    pub(crate) fn new(source: &str, text: &str, root: &DeTable<'_>) -> Locations {
        let mut locations = Locations {
            source: source.to_owned(),
            positions: BTreeMap::new(),
        };
        locations.walk_table(text, &KeyPath::default(), root);
        locations
    }

    /// The name of the file the positions are in; empty for a policy built in code.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Where `path` was written or, when it was not (a default, or a key the file left out),
    /// where its nearest written parent was.
    pub(crate) fn find(&self, path: &KeyPath) -> Option<Position> {
        let mut path = Some(path.clone());
        while let Some(current) = path {
            if let Some(position) = self.positions.get(&current) {
                return Some(*position);
            }
            path = current.parent();
        }
        None
    }

    fn walk_table(&mut self, text: &str, at: &KeyPath, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let path = at.key(key.get_ref());
            self.record(text, &path, key.span());
            self.walk_value(text, &path, value);
        }
    }

    fn walk_value(&mut self, text: &str, at: &KeyPath, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(table) => self.walk_table(text, at, table),
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let path = at.index(index);
                    self.record(text, &path, item.span());
                    self.walk_value(text, &path, item);
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, text: &str, path: &KeyPath, span: Range<usize>) {
        self.positions
            .entry(path.clone())
            .or_insert_with(|| Position::of_offset(text, span.start));
    }
}
