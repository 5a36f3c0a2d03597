//! One typed definition per job kind: the kind stored in the queue, the payload, the keys and how a
//! handler reads the job back. Whoever enqueues a job and whoever handles it share this one type,
//! so neither writes the kind, the keys or the JSON by hand.

use super::JobError;
use crate::store::jobs::{ClaimedJob, NewJob};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of job: its value is what the job carries (its payload, stored as JSON) and it knows
/// its own keys. The rules the keys follow are in [`crate::jobs`].
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The kind stored with every job of this type; existing databases hold it, so it never
    /// changes.
    const KIND: &'static str;

    /// Unique per job: enqueuing a second job with the key stores nothing. `run_at` is when the
    /// job was asked to run: a job that may be asked for again with the same payload (a look at
    /// the merge gate, a forge write) takes it into its key, so each request is kept.
    fn idempotency_key(&self, run_at: i64) -> String;

    /// The jobs sharing this key run one at a time, in the order they were enqueued; `None`
    /// runs beside everything else.
    fn ordering_key(&self) -> Option<String> {
        None
    }

    /// The job to enqueue.
    fn new_job(&self, max_attempts: i64, run_at: i64) -> NewJob {
        NewJob {
            kind: Self::KIND.to_string(),
            idempotency_key: self.idempotency_key(run_at),
            ordering_key: self.ordering_key(),
            payload: serde_json::to_string(self)
                .unwrap_or_else(|e| panic!("a {} job serializes: {e}", Self::KIND)),
            max_attempts,
            run_at,
        }
    }

    /// The job as a worker claimed it. A job whose ordering key is not part of its payload
    /// overrides this to take the key from the row.
    fn read(job: &ClaimedJob) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&job.payload)
    }
}

/// The claimed `job` as a `J`. A payload that does not read, or a job of another kind, cannot
/// get better by retrying: both fail the job for good.
pub fn payload<J: Job>(job: &ClaimedJob) -> Result<J, JobError> {
    if job.kind != J::KIND {
        return Err(JobError::Permanent(format!(
            "a job of kind {:?} read as {:?}",
            job.kind,
            J::KIND
        )));
    }
    J::read(job).map_err(|e| JobError::Permanent(format!("malformed {} job payload: {e}", J::KIND)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        id: i64,
    }

    impl Job for Sample {
        const KIND: &'static str = "sample";

        fn idempotency_key(&self, _run_at: i64) -> String {
            format!("sample:{}", self.id)
        }
    }

    fn claimed(kind: &str, payload: &str) -> ClaimedJob {
        ClaimedJob {
            id: 1,
            kind: kind.into(),
            idempotency_key: "sample:1".into(),
            ordering_key: None,
            payload: payload.into(),
            attempt: 1,
            max_attempts: 3,
            last_error: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_job_reads_back_as_it_was_enqueued() {
        let job = Sample { id: 7 }.new_job(3, 10);
        assert_eq!(job.kind, "sample");
        assert_eq!(job.idempotency_key, "sample:7");
        assert_eq!((job.max_attempts, job.run_at), (3, 10));
        assert_eq!(
            payload::<Sample>(&claimed("sample", &job.payload)),
            Ok(Sample { id: 7 })
        );
    }

    #[test]
    fn a_malformed_payload_fails_for_good_naming_the_kind() {
        for bad in ["", "{}", r#"{"id": "seven"}"#, "null", "[]"] {
            let Err(JobError::Permanent(error)) = payload::<Sample>(&claimed("sample", bad)) else {
                panic!("{bad:?} was read");
            };
            assert!(
                error.starts_with("malformed sample job payload: "),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn a_job_of_another_kind_is_not_read() {
        assert_eq!(
            payload::<Sample>(&claimed("other", r#"{"id": 7}"#)),
            Err(JobError::Permanent(
                r#"a job of kind "other" read as "sample""#.into()
            ))
        );
    }
}
