//! Every text ade shows a user on a forge is rendered here from a file in templates/, so wording
//! changes are reviewed as text and snapshot-tested. Templates are compiled into the binary.

use minijinja::{Environment, Value};
use std::sync::OnceLock;

/// The templates, by name, as the binary carries them.
const TEMPLATES: &[(&str, &str)] = &[
    ("plan.md", include_str!("../templates/plan.md")),
    (
        "plan_prompt.md",
        include_str!("../templates/plan_prompt.md"),
    ),
    (
        "policy_check.md",
        include_str!("../templates/policy_check.md"),
    ),
    ("summary.md", include_str!("../templates/summary.md")),
    ("reply.md", include_str!("../templates/reply.md")),
    (
        "review_reply.md",
        include_str!("../templates/review_reply.md"),
    ),
    (
        "pull_request.md",
        include_str!("../templates/pull_request.md"),
    ),
    ("run_prompt.md", include_str!("../templates/run_prompt.md")),
    (
        "verify_check.md",
        include_str!("../templates/verify_check.md"),
    ),
    (
        "verify_comment.md",
        include_str!("../templates/verify_comment.md"),
    ),
    (
        "verify_feedback.txt",
        include_str!("../templates/verify_feedback.txt"),
    ),
    (
        "verify_steps.md",
        include_str!("../templates/verify_steps.md"),
    ),
    (
        "verify_title.txt",
        include_str!("../templates/verify_title.txt"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        // Markdown is not HTML: escaping is done on purpose by the filters below, per context.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.add_filter("md", |text: String| crate::markdown::inline(&text));
        env.add_filter("code", |text: String| crate::markdown::code_span(&text));
        env.add_filter("code_cell", |text: String| {
            crate::markdown::code_cell(&text)
        });
        env.add_filter("mermaid", |text: String| {
            crate::markdown::mermaid_label(&text)
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        env
    })
}

/// A template that did not render. That is a bug in ade, not in user input (user text only ever
/// reaches templates as values), so a job that meets one fails for good instead of retrying.
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct TemplateError {
    /// The template's name in templates/.
    pub name: String,
    /// What minijinja said.
    pub source: minijinja::Error,
}

/// Renders template `name` with `context`; the error names the template, for the job to fail
/// loudly.
pub fn render(name: &str, context: impl serde::Serialize) -> Result<String, TemplateError> {
    let failed = |source| TemplateError {
        name: name.to_owned(),
        source,
    };
    let template = environment().get_template(name).map_err(failed)?;
    template
        .render(Value::from(minijinja::value::Serde(context)))
        .map(|text| text.trim_end().to_string() + "\n")
        .map_err(failed)
}

/// Compares rendered text with its snapshot in tests/snapshots/NAME.md, or rewrites the snapshot
/// when `ADE_UPDATE_SNAPSHOTS=1`, so every wording change shows up in review as a text diff.
#[cfg(test)]
pub(crate) fn snapshot(name: &str, text: &str) {
    let path = format!("{}/tests/snapshots/{name}.md", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("ADE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with ADE_UPDATE_SNAPSHOTS=1 to create it)"));
    assert_eq!(
        text, expected,
        "{name} changed; rerun with ADE_UPDATE_SNAPSHOTS=1 if intended"
    );
}

#[cfg(test)]
mod tests {
    use super::TEMPLATES;

    #[test]
    fn every_file_in_templates_is_carried_and_compiles() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("templates/ is readable")
            .map(|entry| entry.unwrap())
            // templates/web/ holds the dashboard's pages, which web/html.rs carries.
            .filter(|entry| entry.file_type().unwrap().is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut carried: Vec<String> = TEMPLATES.iter().map(|(name, _)| name.to_string()).collect();
        carried.sort();
        assert_eq!(
            files, carried,
            "a template file that ade does not carry cannot be rendered"
        );
        super::environment();
    }
}
