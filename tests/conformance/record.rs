//! Everything one simulator answered and sent, checked against the descriptions of the forge it
//! plays: each API call (ade's request, the status, the answer whole: formats, nulls, required
//! fields) and each webhook. Git traffic has no description; answers an injected fault made up
//! are the test's, not the forge's; GitHub's GraphQL answers are held to the GraphQL response
//! shape, since the corpus has no GraphQL schema.

use super::description::{Request, Spec, Violation};
use super::schema::Reading;
use super::webhooks;
use ade::sim::{ApiCall, DeliveryRecord};
use serde_json::Value;
use std::collections::BTreeMap;

/// The forge a simulator plays, and so the descriptions that apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Github,
    Gitea,
    Forgejo,
}

impl Dialect {
    /// The API description the simulator answers under (`None` without the corpus).
    pub fn api(self) -> Option<Spec> {
        match self {
            Dialect::Github => Spec::load("github/openapi/api.github.com.json", ""),
            Dialect::Gitea => Spec::load("gitea/swagger.v1.json", "/api/v1"),
            Dialect::Forgejo => Spec::load("gitea/forgejo-swagger.v1.json", "/api/v1"),
        }
    }

    /// The dialect of a simulator of `kind`, playing Forgejo when `forgejo`.
    pub fn of(kind: ade::forge::ForgeKind, forgejo: bool) -> Dialect {
        match (kind, forgejo) {
            (ade::forge::ForgeKind::Github, _) => Dialect::Github,
            (ade::forge::ForgeKind::Gitea, false) => Dialect::Gitea,
            (ade::forge::ForgeKind::Gitea, true) => Dialect::Forgejo,
        }
    }
}

/// A recorded call in the checker's terms: the query decoded, the bodies parsed (a body that is
/// not JSON stays a string, which no object schema accepts).
pub fn request(call: &ApiCall) -> Request {
    Request {
        method: call.method.clone(),
        path: call.path.clone(),
        query: form_urlencoded::parse(call.query.as_bytes())
            .into_owned()
            .collect(),
        body: call.body.as_deref().map(parse),
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Every departure of one API call: its request, its status, and its answer read whole.
pub fn call_departures(spec: &Spec, call: &ApiCall) -> Vec<Violation> {
    let request = request(call);
    let mut errors = spec.check_request(&request);
    if call.response_truncated {
        errors.push(Violation::new(
            &format!("answer to {} {}", call.method, call.path),
            "$",
            "the whole answer (raise SimOptions::recorded_response_limit)",
            "an answer the call record cut short",
        ));
        return errors;
    }
    let body = call.response.as_deref().map(parse).unwrap_or(Value::Null);
    let (operation, schema) = match spec.answer_schema(&call.method, &call.path, call.status) {
        Ok((operation, Some(schema))) => (operation, schema),
        Ok((_, None)) => return errors,
        Err(e) => {
            errors.push(e);
            return errors;
        }
    };
    match body {
        // Gitea's and Forgejo's descriptions give this operation a `ContentsResponse` object,
        // and their summary says "or a list of entries if a dir", which is what both servers
        // answer: each entry is checked as a `ContentsResponse`.
        Value::Array(entries)
            if spec.swagger2()
                && spec.template(&call.path)
                    == Some("/repos/{owner}/{repo}/contents/{filepath}") =>
        {
            for entry in &entries {
                errors.extend(spec.validate(&operation, entry, schema, Reading::Whole));
            }
        }
        body => errors.extend(spec.validate(&operation, &body, schema, Reading::Whole)),
    }
    errors
}

/// A GraphQL answer as the GraphQL specification shapes it (§7.1): an object of `data`,
/// `errors` and `extensions`, with `data` or `errors`.
fn graphql_departures(call: &ApiCall) -> Vec<Violation> {
    let answer = call.response_json();
    let operation = format!("answer to {} {} ({})", call.method, call.path, call.status);
    let fits = answer.as_object().is_some_and(|o| {
        o.keys()
            .all(|k| ["data", "errors", "extensions"].contains(&k.as_str()))
            && (o.contains_key("data") || o.contains_key("errors"))
            && o.get("errors").is_none_or(Value::is_array)
    });
    if fits {
        Vec::new()
    } else {
        vec![Violation::new(
            &operation,
            "$",
            "a GraphQL response: {data, errors, extensions}",
            super::description::shown(&answer),
        )]
    }
}

/// What a check of a record found.
#[derive(Debug, Default)]
pub struct Report {
    /// API calls checked.
    pub calls: usize,
    /// Webhooks checked.
    pub deliveries: usize,
    /// Each distinct departure with the first call or delivery that showed it and how many did.
    pub violations: Vec<String>,
}

impl Report {
    /// Panics listing every departure, if there is one.
    pub fn assert_clean(&self, what: &str) {
        assert!(
            self.violations.is_empty(),
            "{what}: {} departures from the forge's published descriptions \
             (in {} API calls and {} webhooks):\n{}",
            self.violations.len(),
            self.calls,
            self.deliveries,
            self.violations.join("\n")
        );
    }
}

/// Collects departures, keeping one line per distinct (operation, place, expectation) with the
/// first case and a count, so a shape sent a hundred times reads once.
#[derive(Default)]
struct Tally {
    seen: BTreeMap<(String, String, String), (usize, String, usize)>,
}

impl Tally {
    fn add(&mut self, source: &str, violation: Violation) {
        let order = self.seen.len();
        let key = (
            violation.operation.clone(),
            violation.at.clone(),
            violation.expected.clone(),
        );
        self.seen
            .entry(key)
            .and_modify(|(_, _, n)| *n += 1)
            .or_insert((order, format!("{source}: {violation}"), 1));
    }

    fn lines(self) -> Vec<String> {
        let mut lines: Vec<(usize, String, usize)> = self.seen.into_values().collect();
        lines.sort();
        lines
            .into_iter()
            .map(|(_, line, n)| match n {
                1 => line,
                n => format!("{line} (and {} more like it)", n - 1),
            })
            .collect()
    }
}

/// Checks every API call and webhook of a simulator playing `dialect`; an empty report without
/// the corpus.
pub fn check(dialect: Dialect, calls: &[ApiCall], deliveries: &[DeliveryRecord]) -> Report {
    let Some(spec) = dialect.api() else {
        return Report::default();
    };
    let mut report = Report::default();
    let mut tally = Tally::default();
    for call in calls {
        // The OAuth web flow (`/login/oauth/…`) is documented in the forges' OAuth guides, not in
        // their REST descriptions; a browser signing in there asks for the site's icon too.
        let web_page = call.path.starts_with("/login/oauth/") || call.path == "/favicon.ico";
        if call.git || call.answer_injected() || web_page {
            continue;
        }
        report.calls += 1;
        let source = format!("#{} {} {}", call.seq, call.method, call.path);
        let found = if dialect == Dialect::Github && call.path == "/graphql" {
            graphql_departures(call)
        } else {
            call_departures(&spec, call)
        };
        for violation in found {
            tally.add(&source, violation);
        }
    }
    for delivery in deliveries.iter().filter(|d| !d.redelivery) {
        report.deliveries += 1;
        let body = delivery.json();
        let found = match dialect {
            Dialect::Github => {
                webhooks::check_github(&delivery.event, delivery.action.as_deref(), &body)
            }
            Dialect::Gitea | Dialect::Forgejo => webhooks::check_gitea(
                &spec,
                delivery.event_type.as_deref().unwrap_or(&delivery.event),
                &body,
            ),
        };
        let source = format!("delivery {} ({})", delivery.id, delivery.event);
        for violation in found {
            tally.add(&source, violation);
        }
    }
    report.violations = tally.lines();
    report
}
