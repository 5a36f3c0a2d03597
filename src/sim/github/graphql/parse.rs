//! Enough of the GraphQL language to read what a client sends: one operation (query or
//! mutation, named or not, with variable definitions) whose selections are fields with
//! arguments and nested selections. Fragments and directives are not simulated and are refused
//! with a parse error naming them.

/// A value written in the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `$name`.
    Variable(String),
    /// `"text"`.
    String(String),
    /// A number.
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An enum value (a bare name).
    Enum(String),
    /// `[…]`.
    List(Vec<Value>),
    /// `{name: value, …}`.
    Object(Vec<(String, Value)>),
}

/// A field selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// `alias:` if given.
    pub alias: Option<String>,
    /// The field's name.
    pub name: String,
    /// Its arguments, in order.
    pub arguments: Vec<(String, Value)>,
    /// What is selected below it.
    pub selections: Vec<Field>,
}

impl Field {
    /// The key the answer uses for it.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// The operation a document holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// `query` or `mutation`.
    pub kind: String,
    /// Declared variables: name and type as written (`ID!`).
    pub variables: Vec<(String, String)>,
    /// The top-level fields.
    pub selections: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    Spread,
    Str(String),
    Number(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '!' | '$' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '}' | '|' | '&' => {
                out.push(Token::Punct(c));
                i += 1;
            }
            '.' if chars.get(i..i + 3) == Some(&['.', '.', '.']) => {
                out.push(Token::Spread);
                i += 3;
            }
            '"' => {
                let (text, next) = string(&chars, i + 1)?;
                out.push(Token::Str(text));
                i = next;
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || ".+-".contains(chars[i]))
                {
                    i += 1;
                }
                out.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("Parse error on \"{other}\"")),
        }
    }
    Ok(out)
}

/// A string's text from after its opening quote; returns it and the index after the closing one.
fn string(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let escaped = *chars.get(i + 1).ok_or("Parse error: unterminated string")?;
                match escaped {
                    '"' | '\\' | '/' => out.push(escaped),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String =
                            chars.get(i + 2..i + 6).unwrap_or_default().iter().collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or("Parse error: bad unicode escape")?;
                        out.push(code);
                        i += 4;
                    }
                    other => return Err(format!("Parse error: bad escape \\{other}")),
                }
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("Parse error: unterminated string".into())
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("Parse error: unexpected end of document")?;
        self.at += 1;
        Ok(token)
    }

    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Token::Punct(c))
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Token::Punct(p) if p == c => Ok(()),
            other => Err(format!(
                "Parse error on {} (expected \"{c}\")",
                shown(&other)
            )),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Name(name) => Ok(name),
            other => Err(format!(
                "Parse error on {} (expected a name)",
                shown(&other)
            )),
        }
    }

    fn operation(&mut self) -> Result<Operation, String> {
        let mut operation = Operation {
            kind: "query".into(),
            variables: Vec::new(),
            selections: Vec::new(),
        };
        if !self.is('{') {
            let kind = self.name()?;
            if kind != "query" && kind != "mutation" {
                return Err(format!(
                    "Parse error on \"{kind}\" (only queries and mutations are simulated)"
                ));
            }
            operation.kind = kind;
            if matches!(self.peek(), Some(Token::Name(_))) {
                self.name()?;
            }
            if self.is('(') {
                self.expect('(')?;
                while !self.is(')') {
                    self.expect('$')?;
                    let name = self.name()?;
                    self.expect(':')?;
                    let ty = self.ty()?;
                    if self.is('=') {
                        self.expect('=')?;
                        self.value()?;
                    }
                    operation.variables.push((name, ty));
                }
                self.expect(')')?;
            }
        }
        operation.selections = self.selections()?;
        if let Some(extra) = self.peek() {
            return Err(format!(
                "Parse error on {} (one operation per document is simulated)",
                shown(extra)
            ));
        }
        Ok(operation)
    }

    fn ty(&mut self) -> Result<String, String> {
        let mut ty = if self.is('[') {
            self.expect('[')?;
            let inner = self.ty()?;
            self.expect(']')?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.is('!') {
            self.expect('!')?;
            ty.push('!');
        }
        Ok(ty)
    }

    fn selections(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.is('}') {
            if self.peek() == Some(&Token::Spread) {
                return Err("Parse error on \"...\" (fragments are not simulated)".into());
            }
            fields.push(self.field()?);
        }
        self.expect('}')?;
        if fields.is_empty() {
            return Err("Parse error on \"}\" (an empty selection)".into());
        }
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, String> {
        let mut name = self.name()?;
        let mut alias = None;
        if self.is(':') {
            self.expect(':')?;
            alias = Some(name);
            name = self.name()?;
        }
        let mut arguments = Vec::new();
        if self.is('(') {
            self.expect('(')?;
            while !self.is(')') {
                let key = self.name()?;
                self.expect(':')?;
                arguments.push((key, self.value()?));
            }
            self.expect(')')?;
        }
        if self.is('@') {
            return Err("Parse error on \"@\" (directives are not simulated)".into());
        }
        let selections = if self.is('{') {
            self.selections()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            arguments,
            selections,
        })
    }

    fn value(&mut self) -> Result<Value, String> {
        Ok(match self.next()? {
            Token::Punct('$') => Value::Variable(self.name()?),
            Token::Str(text) => Value::String(text),
            Token::Number(n) => Value::Number(n),
            Token::Name(name) => match name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::Enum(name),
            },
            Token::Punct('[') => {
                let mut items = Vec::new();
                while !self.is(']') {
                    items.push(self.value()?);
                }
                self.expect(']')?;
                Value::List(items)
            }
            Token::Punct('{') => {
                let mut fields = Vec::new();
                while !self.is('}') {
                    let key = self.name()?;
                    self.expect(':')?;
                    fields.push((key, self.value()?));
                }
                self.expect('}')?;
                Value::Object(fields)
            }
            other => {
                return Err(format!(
                    "Parse error on {} (expected a value)",
                    shown(&other)
                ));
            }
        })
    }
}

fn shown(token: &Token) -> String {
    match token {
        Token::Name(n) => format!("\"{n}\""),
        Token::Punct(c) => format!("\"{c}\""),
        Token::Spread => "\"...\"".into(),
        Token::Str(s) => format!("string {s:?}"),
        Token::Number(n) => format!("\"{n}\""),
    }
}

/// Reads a document's one operation; the error is the message GitHub's `errors` would carry.
pub fn operation(document: &str) -> Result<Operation, String> {
    let tokens = tokens(document)?;
    if tokens.is_empty() {
        return Err("Parse error: the document is empty".into());
    }
    Parser { tokens, at: 0 }.operation()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutation_with_variables_reads_whole() {
        let op = operation(
            "mutation Ready($id: ID!) { ready: markPullRequestReadyForReview(input: {pullRequestId: $id, clientMutationId: \"c\\\"1\"}) { pullRequest { isDraft number } } }",
        )
        .unwrap();
        assert_eq!(op.kind, "mutation");
        assert_eq!(op.variables, vec![("id".to_string(), "ID!".to_string())]);
        let field = &op.selections[0];
        assert_eq!(
            (field.key(), field.name.as_str()),
            ("ready", "markPullRequestReadyForReview")
        );
        assert_eq!(
            field.arguments,
            vec![(
                "input".to_string(),
                Value::Object(vec![
                    ("pullRequestId".into(), Value::Variable("id".into())),
                    ("clientMutationId".into(), Value::String("c\"1".into())),
                ])
            )]
        );
        assert_eq!(field.selections[0].selections.len(), 2);
    }

    #[test]
    fn shorthand_queries_and_inline_values_read() {
        let op = operation("{ viewer { login } } # trailing comment").unwrap();
        assert_eq!(op.kind, "query");
        let op = operation("mutation { convertPullRequestToDraft(input: {pullRequestId: \"PR_1\"}) { clientMutationId } }").unwrap();
        assert_eq!(op.selections[0].arguments[0].0, "input");
    }

    #[test]
    fn what_is_not_simulated_or_not_graphql_is_refused() {
        for bad in [
            "",
            "mutation {",
            "subscription { x }",
            "query { ...F } fragment F on Query { x }",
            "query { a } query { b }",
            "query { a @include(if: true) }",
            "query { a(x: \"open) }",
            "query { }",
        ] {
            assert!(operation(bad).is_err(), "{bad}");
        }
    }
}
