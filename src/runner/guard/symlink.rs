//! Where a symlink points, judged from its stored target alone: the target is resolved
//! lexically against the link's folder (`..` applied, never the file system), so a link is
//! judged the same on every machine and nothing is followed.

/// Why a symlink is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRisk {
    /// The target is an absolute path (`/…`, `C:\…`, `\\server\…`).
    Absolute,
    /// The target climbs out of the repository root with `..`.
    EscapesRepository,
    /// It climbs one level out and into a folder beside the repository, where other runs'
    /// worktrees live.
    SiblingWorktree,
    /// It names a home folder (`~`, `/home/…`, `/root`, `/Users/…`).
    Home,
    /// It passes through an `.ssh` folder.
    Ssh,
    /// It points into `/etc`.
    SystemConfig,
    /// It points into `/proc`, `/sys` or `/dev`.
    Kernel,
    /// It points into the repository's `.git`.
    GitDirectory,
}

impl LinkRisk {
    /// The risk in words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            LinkRisk::Absolute => "absolute target",
            LinkRisk::EscapesRepository => "leaves the repository",
            LinkRisk::SiblingWorktree => "may reach a sibling worktree",
            LinkRisk::Home => "into a home folder",
            LinkRisk::Ssh => "into .ssh",
            LinkRisk::SystemConfig => "into /etc",
            LinkRisk::Kernel => "into /proc, /sys or /dev",
            LinkRisk::GitDirectory => "into .git",
        }
    }
}

/// A link's target, resolved.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Resolved {
    /// The repository path it names, if it stays inside.
    pub inside: Option<String>,
    /// Why it is flagged, if it is.
    pub risks: Vec<LinkRisk>,
}

/// Resolves `target`, stored in the link at repository path `link`.
pub(super) fn resolve(link: &str, target: &str) -> Resolved {
    let mut risks = Vec::new();
    let windows_absolute = {
        let b = target.as_bytes();
        (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
            || target.starts_with("\\\\")
    };
    if target.starts_with('/') || windows_absolute {
        risks.push(LinkRisk::Absolute);
        let parts: Vec<String> = target
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_ascii_lowercase)
            .collect();
        let first = parts.first().map(String::as_str);
        match first {
            Some("etc") => risks.push(LinkRisk::SystemConfig),
            Some("proc" | "sys" | "dev") => risks.push(LinkRisk::Kernel),
            Some("home" | "root" | "users") => risks.push(LinkRisk::Home),
            _ => {}
        }
        if parts.iter().any(|p| p == ".ssh") {
            risks.push(LinkRisk::Ssh);
        }
        return Resolved {
            inside: None,
            risks,
        };
    }
    if target.starts_with('~') {
        risks.push(LinkRisk::Home);
    }
    let mut parts: Vec<&str> = link.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    let mut above = 0usize;
    let mut outside: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." if above == 0 && !parts.is_empty() => {
                parts.pop();
            }
            ".." if outside.is_empty() => above += 1,
            ".." => {
                outside.pop();
            }
            part if above > 0 => outside.push(part),
            part => parts.push(part),
        }
    }
    let all_parts = parts.iter().chain(outside.iter());
    if all_parts.clone().any(|p| p.eq_ignore_ascii_case(".ssh")) {
        risks.push(LinkRisk::Ssh);
    }
    if above > 0 {
        risks.push(LinkRisk::EscapesRepository);
        if above == 1 && !outside.is_empty() {
            risks.push(LinkRisk::SiblingWorktree);
        }
        if above > 1 {
            // Climbing further out reaches the machine's folders by relative path.
            match outside.first().map(|p| p.to_ascii_lowercase()).as_deref() {
                Some("etc") => risks.push(LinkRisk::SystemConfig),
                Some("proc" | "sys" | "dev") => risks.push(LinkRisk::Kernel),
                Some("home" | "root" | "users") => risks.push(LinkRisk::Home),
                _ => {}
            }
        }
        return Resolved {
            inside: None,
            risks,
        };
    }
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case(".git"))
    {
        risks.push(LinkRisk::GitDirectory);
    }
    Resolved {
        inside: Some(parts.join("/")),
        risks,
    }
}
