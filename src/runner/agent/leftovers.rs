//! Paths an agent tool leaves for itself in the worktree (aider's `.aider.chat.history.md` and
//! `.aider.tags.cache.v4/`, for example). The runner never commits them into a pull request.
//!
//! Patterns are gitignore-like, deliberately small: `*` matches any run of characters within one
//! path component and `?` one character; a pattern without `/` matches a component at any depth
//! (and so everything below it); a pattern with `/` is anchored at the repository root and matches
//! that path and everything below it. A trailing `/` is ignored.

/// The leftover patterns of one agent, checked at load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    patterns: Vec<String>,
}

impl Leftovers {
    /// Checks and keeps the patterns; an error says what is wrong with which one.
    pub fn new(patterns: Vec<String>) -> Result<Leftovers, String> {
        for pattern in &patterns {
            let trimmed = pattern.trim_end_matches('/');
            if trimmed.is_empty() {
                return Err(format!("{pattern:?} is empty"));
            }
            if trimmed.starts_with('/') {
                return Err(format!(
                    "{pattern:?} must be relative to the repository root"
                ));
            }
            if trimmed
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
            {
                return Err(format!(
                    "{pattern:?} must not hold empty, . or .. components"
                ));
            }
            if trimmed.chars().any(char::is_control) {
                return Err(format!("{pattern:?} holds a control character"));
            }
        }
        Ok(Leftovers { patterns })
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the repository-relative `path` is a leftover (or lies below one).
    pub fn matches(&self, path: &str) -> bool {
        let path = path
            .strip_prefix("./")
            .unwrap_or(path)
            .trim_end_matches('/');
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        self.patterns.iter().any(|pattern| {
            let pattern: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
            if pattern.len() == 1 {
                components.iter().any(|c| glob(pattern[0], c))
            } else {
                components.len() >= pattern.len()
                    && pattern.iter().zip(&components).all(|(p, c)| glob(p, c))
            }
        })
    }
}

/// `*` and `?` within one component.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(patterns: &[&str]) -> Leftovers {
        Leftovers::new(patterns.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn aider_files_anywhere() {
        let l = leftovers(&[".aider*"]);
        assert!(l.matches(".aider.chat.history.md"));
        assert!(l.matches(".aider.input.history"));
        assert!(l.matches(".aider.tags.cache.v4/cache.db"));
        assert!(l.matches("sub/.aider.chat.history.md"));
        assert!(!l.matches("src/aider.rs"));
        assert!(!l.matches("README.md"));
    }

    #[test]
    fn anchored_patterns() {
        let l = leftovers(&["tool/state/", "logs/*.log"]);
        assert!(l.matches("tool/state"));
        assert!(l.matches("tool/state/x/y"));
        assert!(!l.matches("src/tool/state"));
        assert!(l.matches("logs/a.log"));
        assert!(!l.matches("logs/a.txt"));
        assert!(!l.matches("logs"));
    }

    #[test]
    fn globs() {
        assert!(glob("a*b?c", "aXXbYc"));
        assert!(glob("*", ""));
        assert!(!glob("a*", "b"));
        assert!(glob("*.md", "x.y.md"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "/abs", "../up", "a//b", "a/./b"] {
            assert!(Leftovers::new(vec![bad.into()]).is_err(), "{bad}");
        }
    }
}
