//! Counters and histograms for `/metrics`, kept in memory and rendered in the Prometheus text
//! format. Label values come from verified deliveries and ade's own names; they are still escaped
//! and bounded, so a forge sending odd event names cannot break the output or grow it without end.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds, in seconds, of every latency histogram's buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Most distinct label sets one metric keeps; later ones are counted under `other`.
const MAX_SERIES: usize = 1_000;

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Series<T> {
    values: BTreeMap<Labels, T>,
}

impl<T: Default> Series<T> {
    fn entry(&mut self, labels: Labels) -> &mut T {
        if !self.values.contains_key(&labels) && self.values.len() >= MAX_SERIES {
            let other = labels
                .iter()
                .map(|(k, _)| (*k, "other".to_string()))
                .collect();
            return self.values.entry(other).or_default();
        }
        self.values.entry(labels).or_default()
    }
}

/// Every metric ade keeps, shared by the ingress, the workers and the web routes.
#[derive(Default)]
pub struct Metrics {
    webhook_deliveries: Mutex<Series<u64>>,
    signature_failures: Mutex<Series<u64>>,
    deliveries_handled: Mutex<Series<u64>>,
    delivery_latency: Mutex<Series<Histogram>>,
    jobs_finished: Mutex<Series<u64>>,
    job_duration: Mutex<Series<Histogram>>,
    inbox_commits: Mutex<(u64, u64)>,
    reconciled: Mutex<Series<u64>>,
}

/// A gauge read at scrape time (queue depth, deliveries by state).
#[derive(Clone, Debug)]
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Label sets and values.
    pub values: Vec<(Labels, i64)>,
}

fn label(value: &str) -> String {
    let value: String = value.chars().take(64).collect();
    if value.is_empty() {
        "none".into()
    } else {
        value
    }
}

impl Metrics {
    /// A webhook request was answered: `outcome` is `accepted`, `duplicate`, `ping`,
    /// `bad_signature`, `bad_request`, `too_large`, `timeout`, `unsupported_media_type`,
    /// `unavailable`, or a refusal at the door before the body is read: `busy` (every place for
    /// an unverified body taken) or `rate_limited` (the address spent its failed signatures).
    pub fn webhook_delivery(&self, forge: &str, event: &str, outcome: &'static str) {
        let labels = vec![
            ("forge", label(forge)),
            ("event", label(event)),
            ("outcome", outcome.into()),
        ];
        *self.webhook_deliveries.lock().unwrap().entry(labels) += 1;
    }

    /// A webhook failed signature verification.
    pub fn signature_failure(&self, forge: &str) {
        *self
            .signature_failures
            .lock()
            .unwrap()
            .entry(vec![("forge", label(forge))]) += 1;
    }

    /// A stored delivery was handled: `outcome` is `processed`, `ignored` or `failed`;
    /// `latency` runs from its receipt to the end of its handling.
    pub fn delivery_handled(
        &self,
        forge: &str,
        event: &str,
        outcome: &'static str,
        latency: Duration,
    ) {
        let labels = vec![
            ("forge", label(forge)),
            ("event", label(event)),
            ("outcome", outcome.into()),
        ];
        *self.deliveries_handled.lock().unwrap().entry(labels) += 1;
        self.delivery_latency
            .lock()
            .unwrap()
            .entry(vec![("forge", label(forge))])
            .observe(latency.as_secs_f64());
    }

    /// A job attempt ended: `outcome` is `completed`, `retried`, `failed`, `lease_lost` or
    /// `unrecorded` (the store failed while writing the result).
    pub fn job_finished(&self, kind: &str, outcome: &'static str, took: Duration) {
        let labels = vec![("kind", label(kind)), ("outcome", outcome.into())];
        *self.jobs_finished.lock().unwrap().entry(labels) += 1;
        self.job_duration
            .lock()
            .unwrap()
            .entry(vec![("kind", label(kind))])
            .observe(took.as_secs_f64());
    }

    /// The inbox committed one transaction holding `deliveries` deliveries: the ratio of the two
    /// counters is the mean group-commit batch.
    pub fn inbox_commit(&self, deliveries: usize) {
        let mut commits = self.inbox_commits.lock().unwrap();
        commits.0 += 1;
        commits.1 += deliveries as u64;
    }

    /// A reconciliation sweep found something no delivery brought: `what` is `comment` (a
    /// command), `pull_request` (an approval merged or closed) or `review` (an approving review).
    pub fn reconciled(&self, forge: &str, what: &'static str) {
        let labels = vec![("forge", label(forge)), ("what", what.into())];
        *self.reconciled.lock().unwrap().entry(labels) += 1;
    }

    /// The Prometheus text exposition of every metric, plus the gauges read for this scrape.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        counter(
            &mut out,
            "ade_webhook_deliveries_total",
            "Webhook requests answered, by forge, event and outcome.",
            &self.webhook_deliveries.lock().unwrap(),
        );
        counter(
            &mut out,
            "ade_webhook_signature_failures_total",
            "Webhook requests refused for a missing or wrong signature.",
            &self.signature_failures.lock().unwrap(),
        );
        counter(
            &mut out,
            "ade_deliveries_handled_total",
            "Stored deliveries handled, by forge, event and outcome.",
            &self.deliveries_handled.lock().unwrap(),
        );
        histogram(
            &mut out,
            "ade_delivery_processing_seconds",
            "Time from storing a delivery to the end of its handling.",
            &self.delivery_latency.lock().unwrap(),
        );
        counter(
            &mut out,
            "ade_reconciled_total",
            "What reconciliation sweeps found that no delivery brought, by forge and kind.",
            &self.reconciled.lock().unwrap(),
        );
        counter(
            &mut out,
            "ade_job_attempts_total",
            "Job attempts ended, by kind and outcome.",
            &self.jobs_finished.lock().unwrap(),
        );
        histogram(
            &mut out,
            "ade_job_duration_seconds",
            "Time one job attempt ran.",
            &self.job_duration.lock().unwrap(),
        );
        let (commits, committed) = *self.inbox_commits.lock().unwrap();
        let _ = writeln!(
            out,
            "# HELP ade_inbox_commits_total Transactions the inbox committed.\n# TYPE ade_inbox_commits_total counter\nade_inbox_commits_total {commits}"
        );
        let _ = writeln!(
            out,
            "# HELP ade_inbox_committed_deliveries_total Deliveries (new or duplicate) in those transactions.\n# TYPE ade_inbox_committed_deliveries_total counter\nade_inbox_committed_deliveries_total {committed}"
        );
        for gauge in gauges {
            let _ = writeln!(
                out,
                "# HELP {} {}\n# TYPE {} gauge",
                gauge.name, gauge.help, gauge.name
            );
            for (labels, value) in &gauge.values {
                let _ = writeln!(out, "{}{} {value}", gauge.name, render_labels(labels, None));
            }
        }
        out
    }
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counter(out: &mut String, name: &str, help: &str, series: &Series<u64>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in &series.values {
        let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
    }
}

fn histogram(out: &mut String, name: &str, help: &str, series: &Series<Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (labels, h) in &series.values {
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "{name}_bucket{} {count}",
                render_labels(labels, Some(&bound.to_string()))
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            render_labels(labels, Some("+Inf")),
            h.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", render_labels(labels, None), h.sum);
        let _ = writeln!(
            out,
            "{name}_count{} {}",
            render_labels(labels, None),
            h.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges_in_prometheus_text() {
        let m = Metrics::default();
        m.webhook_delivery("github", "issue_comment", "accepted");
        m.webhook_delivery("github", "issue_comment", "accepted");
        m.signature_failure("gitea");
        m.delivery_handled(
            "github",
            "issue_comment",
            "processed",
            Duration::from_millis(30),
        );
        let text = m.render(&[Gauge {
            name: "ade_jobs",
            help: "Jobs by kind and state.",
            values: vec![(
                vec![("kind", "delivery".into()), ("state", "available".into())],
                3,
            )],
        }]);
        assert!(text.contains("ade_webhook_deliveries_total{forge=\"github\",event=\"issue_comment\",outcome=\"accepted\"} 2"), "{text}");
        assert!(text.contains("ade_webhook_signature_failures_total{forge=\"gitea\"} 1"));
        assert!(
            text.contains(
                "ade_delivery_processing_seconds_bucket{forge=\"github\",le=\"0.025\"} 0"
            )
        );
        assert!(
            text.contains("ade_delivery_processing_seconds_bucket{forge=\"github\",le=\"0.05\"} 1")
        );
        assert!(text.contains("ade_delivery_processing_seconds_count{forge=\"github\"} 1"));
        assert!(text.contains("ade_jobs{kind=\"delivery\",state=\"available\"} 3"));
    }

    #[test]
    fn odd_label_values_are_escaped_and_series_are_bounded() {
        let m = Metrics::default();
        m.webhook_delivery("github", "a\"b\\c\nd", "bad_request");
        let text = m.render(&[]);
        assert!(text.contains(r#"event="a\"b\\c\nd""#), "{text}");
        for i in 0..(MAX_SERIES + 50) {
            m.webhook_delivery("github", &format!("e{i}"), "accepted");
        }
        let series = m.webhook_deliveries.lock().unwrap().values.len();
        assert!(series <= MAX_SERIES + 1, "{series}");
    }
}
