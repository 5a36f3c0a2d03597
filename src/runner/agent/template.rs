//! Argument templates: one element of an agent's `command` (or one value of its `env`) with
//! placeholders such as `{worktree}`. A template is parsed once, when the configuration is loaded,
//! so an unknown placeholder stops ade at start. Expanding it yields exactly one string: a value is
//! put in as it is, never split, never read again for placeholders, never given to a shell.

use std::fmt;

/// A value ade fills into an agent's command when it starts a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placeholder {
    /// `{prompt_file}`: the rendered prompt, a Markdown file in the run's scratch folder.
    PromptFile,
    /// `{prompt}`: the prompt text itself, for agents that take it as an argument.
    Prompt,
    /// `{task_file}`: the task as JSON, in the scratch folder.
    TaskFile,
    /// `{worktree}`: the folder the agent works in.
    Worktree,
    /// `{scratch}`: the run's scratch folder (HOME and tool state live under it).
    Scratch,
    /// `{model}`: the agent's configured model.
    Model,
    /// `{output_file}`: where the agent may write its final message or summary.
    OutputFile,
}

impl Placeholder {
    /// Every placeholder, in the order the documentation lists them.
    pub const ALL: [Placeholder; 7] = [
        Placeholder::PromptFile,
        Placeholder::Prompt,
        Placeholder::TaskFile,
        Placeholder::Worktree,
        Placeholder::Scratch,
        Placeholder::Model,
        Placeholder::OutputFile,
    ];

    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::PromptFile => "prompt_file",
            Placeholder::Prompt => "prompt",
            Placeholder::TaskFile => "task_file",
            Placeholder::Worktree => "worktree",
            Placeholder::Scratch => "scratch",
            Placeholder::Model => "model",
            Placeholder::OutputFile => "output_file",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(Placeholder),
}

/// One parsed argument (or environment value) with its placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgTemplate {
    source: String,
    pieces: Vec<Piece>,
}

/// Why an argument template was refused; the message names the offending text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{something}` that is not one of [`Placeholder::ALL`].
    #[error(
        "unknown placeholder {{{0}}}; known are {{prompt_file}}, {{prompt}}, {{task_file}}, {{worktree}}, {{scratch}}, {{model}}, {{output_file}} (write {{{{ and }}}} for literal braces)"
    )]
    Unknown(String),
    /// A `{` without its closing `}`.
    #[error("unclosed {{ (write {{{{ for a literal brace)")]
    Unclosed,
    /// A `}` that closes nothing.
    #[error("unmatched }} (write }}}} for a literal brace)")]
    Unmatched,
    /// A NUL byte, which no argument or variable can carry.
    #[error("contains a NUL character")]
    Nul,
}

impl ArgTemplate {
    /// Parses `{name}` placeholders; `{{` and `}}` stand for literal braces.
    pub fn parse(source: &str) -> Result<ArgTemplate, TemplateError> {
        if source.contains('\0') {
            return Err(TemplateError::Nul);
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(TemplateError::Unmatched),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => return Err(TemplateError::Unclosed),
                            Some(c) => name.push(c),
                        }
                    }
                    let placeholder =
                        Placeholder::from_name(&name).ok_or(TemplateError::Unknown(name))?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Slot(placeholder));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(ArgTemplate {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The text as the operator wrote it (for `ade check-config`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The placeholders it uses, in order, repeats included.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Slot(p) => Some(*p),
            Piece::Text(_) => None,
        })
    }

    /// The text with no placeholder in it, if it has none (a program name, for example).
    pub fn literal(&self) -> Option<String> {
        match self.pieces.as_slice() {
            [] => Some(String::new()),
            [Piece::Text(text)] => Some(text.clone()),
            _ => None,
        }
    }

    /// Fills every placeholder with its value. The result is one string whatever the values
    /// hold: spaces, quotes, `$(…)`, newlines and braces in a value are kept as they are.
    pub fn expand(&self, value: impl Fn(Placeholder) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot(p) => out.push_str(&value(*p)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(source: &str) -> String {
        ArgTemplate::parse(source)
            .unwrap()
            .expand(|p| format!("<{}>", p.name()))
    }

    #[test]
    fn placeholders_fill_whole_or_part_of_an_argument() {
        assert_eq!(expand("{prompt_file}"), "<prompt_file>");
        assert_eq!(expand("--out={output_file}"), "--out=<output_file>");
        assert_eq!(
            expand("{scratch}/home:{worktree}"),
            "<scratch>/home:<worktree>"
        );
        assert_eq!(expand("plain"), "plain");
        assert_eq!(expand(""), "");
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(expand(r#"{{"mcpServers":{{}}}}"#), r#"{"mcpServers":{}}"#);
        assert_eq!(expand("{{worktree}}"), "{worktree}");
    }

    #[test]
    fn unknown_and_broken_placeholders_are_refused() {
        assert_eq!(
            ArgTemplate::parse("{workdir}"),
            Err(TemplateError::Unknown("workdir".into()))
        );
        assert_eq!(
            ArgTemplate::parse("{PROMPT}"),
            Err(TemplateError::Unknown("PROMPT".into()))
        );
        assert_eq!(
            ArgTemplate::parse("{ prompt }"),
            Err(TemplateError::Unknown(" prompt ".into()))
        );
        assert_eq!(ArgTemplate::parse("{prompt"), Err(TemplateError::Unclosed));
        assert_eq!(ArgTemplate::parse("{a{b}"), Err(TemplateError::Unclosed));
        assert_eq!(ArgTemplate::parse("a}"), Err(TemplateError::Unmatched));
        assert_eq!(ArgTemplate::parse("a\0b"), Err(TemplateError::Nul));
        let message = TemplateError::Unknown("workdir".into()).to_string();
        assert!(
            message.starts_with("unknown placeholder {workdir};"),
            "{message}"
        );
    }

    #[test]
    fn values_are_never_read_again() {
        let template = ArgTemplate::parse("-p={prompt}").unwrap();
        let out = template.expand(|_| "{worktree} $(rm -rf /) \"a b\"\nnext".to_owned());
        assert_eq!(out, "-p={worktree} $(rm -rf /) \"a b\"\nnext");
    }

    #[test]
    fn literal_only_without_placeholders() {
        assert_eq!(
            ArgTemplate::parse("claude").unwrap().literal().as_deref(),
            Some("claude")
        );
        assert_eq!(ArgTemplate::parse("{model}").unwrap().literal(), None);
        assert_eq!(
            ArgTemplate::parse("a{model}b{model}")
                .unwrap()
                .placeholders()
                .collect::<Vec<_>>(),
            [Placeholder::Model, Placeholder::Model]
        );
    }
}
