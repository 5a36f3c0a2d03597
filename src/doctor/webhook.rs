//! Whether the forge sends ade its webhooks: a webhook that points at `server.public_url` and
//! the forge's path, is active, sends the events ade acts on, and is signed with a secret ade
//! knows. GitHub App webhooks are part of the app (its URL and whether a secret is set show in
//! `GET /app/hook/config`; its events are the installation's; whether it is active is not
//! shown); Gitea's are the repository's hooks, whose secret Gitea never shows.

use super::report::shown;
use super::{Client, Context, Finding, Report, forge_failure};
use crate::forge::ForgeError;
use crate::forge::github::permissions::EVENTS;
use crate::forge::setup::{SecretShown, WebhookSetup};

/// The events ade needs from Gitea and Forgejo, each met by any of its names: the hook's
/// `events` shows Gitea's fine event types, or the grouped name its settings page offers.
const GITEA_EVENTS: &[(&str, &[&str])] = &[
    ("issues", &["issues"]),
    ("issue_comment", &["issue_comment"]),
    ("pull_request", &["pull_request"]),
    ("pull_request_sync", &["pull_request_sync"]),
    ("pull_request_comment", &["pull_request_comment"]),
    (
        "pull_request_review_approved",
        &["pull_request_review_approved", "pull_request_review"],
    ),
    (
        "pull_request_review_rejected",
        &["pull_request_review_rejected", "pull_request_review"],
    ),
    (
        "pull_request_review_comment",
        &["pull_request_review_comment", "pull_request_review"],
    ),
    ("push", &["push"]),
];

/// Runs the webhook checks.
pub(super) async fn check(context: &Context<'_>, report: &mut Report) {
    let public_url = context.config.server.public_url.as_deref();
    match &context.client {
        Client::Github(github) => {
            secrets_configured(
                !context.config.github.webhook_secrets.is_empty(),
                "github",
                report,
            );
            match github.app_webhook().await {
                Ok(hook) => {
                    report.push(judge_url(
                        public_url,
                        "/webhooks/github",
                        &hook,
                        " (GitHub's API does not show whether the app's webhook is active: see Active on the app's settings page)",
                    ));
                    report.push(judge_secret(
                        hook.secret,
                        "the app's settings page (Webhook secret)",
                    ));
                }
                Err(error) => report.push(forge_failure(
                    "webhook.url",
                    &error,
                    "the app's webhook configuration",
                )),
            }
            match github.installation_access(&context.repo).await {
                Ok(installation) => report.push(judge_github_events(&installation.events)),
                Err(error) => report.push(forge_failure(
                    "webhook.events",
                    &error,
                    "the installation's events",
                )),
            }
        }
        Client::Gitea(gitea) => {
            secrets_configured(
                !context.config.gitea.webhook_secrets.is_empty(),
                "gitea",
                report,
            );
            let hooks = match gitea.list_hooks(&context.repo).await {
                Ok(hooks) => hooks,
                Err(error @ ForgeError::Forbidden(_)) => {
                    report.push(Finding::problem(
                        "webhook.url",
                        format!(
                            "the forge does not show ade's bot the repository's webhooks: {}",
                            super::report::error_text(&error)
                        ),
                        "make the bot user an admin collaborator of the repository",
                    ));
                    return;
                }
                Err(error) => {
                    report.push(forge_failure(
                        "webhook.url",
                        &error,
                        "the repository's webhooks",
                    ));
                    return;
                }
            };
            let Some(hook) = pick(&hooks, public_url, "/webhooks/gitea") else {
                report.push(no_hook(&hooks, public_url));
                return;
            };
            report.push(judge_url(public_url, "/webhooks/gitea", hook, ""));
            report.push(judge_active(hook));
            report.push(judge_gitea_events(
                hook.events.as_deref().unwrap_or_default(),
            ));
            report.push(judge_secret(hook.secret, "the hook's settings (Secret)"));
        }
    }
}

/// ade refuses every delivery of a forge it has no secret for.
fn secrets_configured(configured: bool, forge: &str, report: &mut Report) {
    if !configured {
        report.push(Finding::problem(
            "webhook.secret",
            format!("ade.toml has no [{forge}] webhook_secret: ade refuses every delivery from this forge"),
            format!("set [{forge}] webhook_secret (or webhook_secret_file) to the secret the forge signs with"),
        ));
    }
}

/// The URL a webhook must have: `server.public_url` and the forge's path.
fn expected(public_url: Option<&str>, path: &str) -> Option<String> {
    public_url.map(|base| format!("{}{path}", base.trim_end_matches('/')))
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The repository hook that delivers to ade: the one at the expected URL, else (without a public
/// URL to compare with) the first whose path is the forge's.
fn pick<'h>(
    hooks: &'h [WebhookSetup],
    public_url: Option<&str>,
    path: &str,
) -> Option<&'h WebhookSetup> {
    match expected(public_url, path) {
        Some(url) => hooks.iter().find(|h| same_url(&h.url, &url)),
        None => hooks
            .iter()
            .find(|h| h.url.trim_end_matches('/').ends_with(path)),
    }
}

fn no_hook(hooks: &[WebhookSetup], public_url: Option<&str>) -> Finding {
    let target = expected(public_url, "/webhooks/gitea")
        .unwrap_or_else(|| "https://<ade>/webhooks/gitea".to_owned());
    let found = if hooks.is_empty() {
        "the repository has no webhooks".to_owned()
    } else {
        format!(
            "its webhooks go to {}",
            hooks
                .iter()
                .map(|h| shown(&h.url))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Finding::problem(
        "webhook.url",
        format!("no webhook delivers to ade: {found}"),
        format!(
            "add a Gitea webhook (Settings, Webhooks) with target URL {target}, content type application/json, the secret of [gitea] webhook_secret, and the events in docs/doctor.md"
        ),
    )
}

/// Whether the hook's URL is ade's.
fn judge_url(public_url: Option<&str>, path: &str, hook: &WebhookSetup, note: &str) -> Finding {
    if let Some(kind) = &hook.kind
        && !matches!(kind.as_str(), "gitea" | "forgejo")
    {
        return Finding::problem(
            "webhook.url",
            format!(
                "the webhook to {} is of type {}, which does not send Gitea's payloads and signature",
                shown(&hook.url),
                shown(kind)
            ),
            "replace it with a webhook of type Gitea (or Forgejo)",
        );
    }
    let Some(want) = expected(public_url, path) else {
        if hook.url.trim_end_matches('/').ends_with(path) {
            return Finding::warning(
                "webhook.url",
                format!(
                    "the webhook goes to {}; server.public_url is not set, so ade cannot tell whether that is this ade{note}",
                    shown(&hook.url)
                ),
                "set server.public_url in ade.toml to the URL the forge reaches ade at",
            );
        }
        return Finding::problem(
            "webhook.url",
            format!(
                "the webhook goes to {}, not to a path {path}{note}",
                shown(&hook.url)
            ),
            format!(
                "point it at https://<ade>{path}, and set server.public_url so ade doctor can check it"
            ),
        );
    };
    if hook.url.is_empty() {
        return Finding::problem(
            "webhook.url",
            format!("the webhook has no URL{note}"),
            format!("set the webhook URL to {want}"),
        );
    }
    if !same_url(&hook.url, &want) {
        return Finding::problem(
            "webhook.url",
            format!(
                "the webhook goes to {}, not to {}{note}",
                shown(&hook.url),
                shown(&want)
            ),
            format!("set the webhook URL to {want}"),
        );
    }
    if hook.insecure_tls {
        return Finding::warning(
            "webhook.url",
            format!(
                "the webhook goes to {} without checking its TLS certificate{note}",
                shown(&want)
            ),
            "turn SSL verification on in the webhook's settings",
        );
    }
    Finding::ok(
        "webhook.url",
        format!("the webhook goes to {}{note}", shown(&want)),
    )
}

fn judge_active(hook: &WebhookSetup) -> Finding {
    match hook.active {
        Some(false) => Finding::problem(
            "webhook.active",
            "the webhook is not active: the forge sends nothing",
            "tick Active in the webhook's settings",
        ),
        _ => Finding::ok("webhook.active", "the webhook is active"),
    }
}

fn judge_secret(secret: SecretShown, where_: &str) -> Finding {
    match secret {
        SecretShown::Set => Finding::ok(
            "webhook.secret",
            "the webhook has a secret (ade checks every delivery's signature with its own)",
        ),
        SecretShown::Unset => Finding::problem(
            "webhook.secret",
            "the webhook has no secret: its deliveries are unsigned and ade refuses them",
            format!("set the same secret as ade's webhook_secret in {where_}"),
        ),
        SecretShown::Hidden => Finding::ok(
            "webhook.secret",
            "the forge does not show a webhook's secret, so ade cannot compare it; a wrong one shows as 401 answers in ade's log and in ade_webhook_signature_failures_total",
        ),
    }
}

/// The installation's events against the ones ade acts on.
fn judge_github_events(events: &[String]) -> Finding {
    let missing: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| !events.iter().any(|g| g == e))
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            "webhook.events",
            format!(
                "the installation receives every event ade acts on ({})",
                EVENTS.join(", ")
            ),
        );
    }
    Finding::problem(
        "webhook.events",
        format!("the installation does not receive {}", missing.join(", ")),
        "subscribe to them in the app's settings (Permissions & events, Subscribe to events), then accept the change on the installation",
    )
}

/// The hook's events against the ones ade acts on.
fn judge_gitea_events(events: &[String]) -> Finding {
    let missing: Vec<&str> = GITEA_EVENTS
        .iter()
        .filter(|(_, names)| !names.iter().any(|n| events.iter().any(|e| e == n)))
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            "webhook.events",
            "the webhook sends every event ade acts on",
        );
    }
    Finding::problem(
        "webhook.events",
        format!("the webhook does not send {}", missing.join(", ")),
        "in the webhook's settings choose \"All events\", or custom events with issues, issue comments, pull requests, pull request synchronized, pull request comments, pull request reviews and push",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn hook(url: &str) -> WebhookSetup {
        WebhookSetup {
            kind: Some("gitea".into()),
            url: url.into(),
            content_type: Some("json".into()),
            events: Some(Vec::new()),
            active: Some(true),
            secret: SecretShown::Hidden,
            insecure_tls: false,
        }
    }

    #[test]
    fn the_url_must_be_the_public_url_and_the_forge_path() {
        let public = Some("https://ade.example.com/");
        let path = "/webhooks/gitea";
        assert_eq!(
            judge_url(
                public,
                path,
                &hook("https://ade.example.com/webhooks/gitea"),
                ""
            )
            .status,
            Status::Ok
        );
        let wrong = judge_url(
            public,
            path,
            &hook("https://old.example.com/webhooks/gitea"),
            "",
        );
        assert_eq!(wrong.status, Status::Problem);
        assert!(
            wrong
                .fix
                .unwrap()
                .contains("https://ade.example.com/webhooks/gitea")
        );
        assert_eq!(
            judge_url(None, path, &hook("https://x/webhooks/gitea"), "").status,
            Status::Warning
        );
        assert_eq!(
            judge_url(None, path, &hook("https://x/hook"), "").status,
            Status::Problem
        );
        let mut slack = hook("https://ade.example.com/webhooks/gitea");
        slack.kind = Some("slack".into());
        assert_eq!(judge_url(public, path, &slack, "").status, Status::Problem);
        let mut insecure = hook("https://ade.example.com/webhooks/gitea");
        insecure.insecure_tls = true;
        assert_eq!(
            judge_url(public, path, &insecure, "").status,
            Status::Warning
        );
    }

    #[test]
    fn the_hook_delivering_to_ade_is_picked_among_others() {
        let hooks = vec![
            hook("https://chat.example/x"),
            hook("https://ade.example.com/webhooks/gitea/"),
        ];
        let found = pick(&hooks, Some("https://ade.example.com"), "/webhooks/gitea").unwrap();
        assert_eq!(found.url, "https://ade.example.com/webhooks/gitea/");
        assert!(
            pick(
                &hooks[..1],
                Some("https://ade.example.com"),
                "/webhooks/gitea"
            )
            .is_none()
        );
        assert_eq!(no_hook(&hooks[..1], None).status, Status::Problem);
    }

    #[test]
    fn events_are_named_when_missing() {
        let all: Vec<String> = EVENTS.iter().map(|e| e.to_string()).collect();
        assert_eq!(judge_github_events(&all).status, Status::Ok);
        let finding = judge_github_events(&all[1..]);
        assert_eq!(finding.status, Status::Problem);
        assert!(finding.message.ends_with(EVENTS[0]), "{}", finding.message);

        let grouped: Vec<String> = [
            "issues",
            "issue_comment",
            "pull_request",
            "pull_request_sync",
            "pull_request_comment",
            "pull_request_review",
            "push",
        ]
        .iter()
        .map(|e| e.to_string())
        .collect();
        assert_eq!(judge_gitea_events(&grouped).status, Status::Ok);
        let finding = judge_gitea_events(&grouped[..3]);
        assert!(
            finding.message.contains("pull_request_sync"),
            "{}",
            finding.message
        );
        assert!(finding.message.contains("push"), "{}", finding.message);
    }

    #[test]
    fn an_unset_secret_is_a_problem_and_a_hidden_one_is_said_to_be_unchecked() {
        assert_eq!(judge_secret(SecretShown::Set, "x").status, Status::Ok);
        assert_eq!(
            judge_secret(SecretShown::Unset, "x").status,
            Status::Problem
        );
        let hidden = judge_secret(SecretShown::Hidden, "x");
        assert!(hidden.message.contains("cannot compare"));
    }
}
