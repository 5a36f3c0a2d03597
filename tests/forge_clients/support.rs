//! What the client tests share: a fast retry policy, a throwaway GitHub App key made with
//! openssl, JWT verification by openssl (not by the code under test), and times as GitHub writes
//! them.

use ade::clock::{SystemClock, unix_ms};
use ade::forge::{ClientOptions, ForgePullRequest, RepoRef, RetryPolicy};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Retries that finish in milliseconds, with room for the one-second rate-limit waits.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        budget: Duration::from_secs(5),
        transient_retries: 3,
        rate_limit_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        request_timeout: Duration::from_secs(5),
    }
}

pub fn options() -> ClientOptions {
    ClientOptions {
        retry: policy(),
        clock: Arc::new(SystemClock),
    }
}

pub fn options_with(retry: RetryPolicy) -> ClientOptions {
    ClientOptions {
        retry,
        clock: Arc::new(SystemClock),
    }
}

pub fn repo(installation_id: Option<i64>) -> RepoRef {
    RepoRef::parse("octo-org/hello-world", installation_id).unwrap()
}

/// A throwaway RSA key for a test-only GitHub App, in both PEM forms, and its public half.
pub struct TestKey {
    pub pkcs1: Vec<u8>,
    pub pkcs8: Vec<u8>,
    pub public: PathBuf,
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        status.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ade-forge-clients-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &["genrsa", "-traditional", "-out", "app-pkcs1.pem", "2048"],
        );
        openssl(
            &dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "app-pkcs1.pem",
                "-out",
                "app-pkcs8.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "rsa",
                "-in",
                "app-pkcs1.pem",
                "-pubout",
                "-out",
                "app-public.pem",
            ],
        );
        TestKey {
            pkcs1: std::fs::read(dir.join("app-pkcs1.pem")).unwrap(),
            pkcs8: std::fs::read(dir.join("app-pkcs8.pem")).unwrap(),
            public: dir.join("app-public.pem"),
            dir,
        }
    })
}

/// Verifies an RS256 JWT with openssl and the test key's public half; returns its claims.
pub fn verify_jwt(jwt: &str) -> serde_json::Value {
    let key = test_key();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {jwt}");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let name = format!("jwt-{}", fastrand::u64(..));
    let data = key.dir.join(format!("{name}.data"));
    let signature = key.dir.join(format!("{name}.sig"));
    std::fs::write(&data, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&signature, URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&key.public)
        .arg("-signature")
        .arg(&signature)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "JWT signature refused by openssl: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

/// `now + secs` as GitHub writes times (`2016-07-11T22:14:10Z`).
pub fn rfc3339_in(secs: i64) -> String {
    let t = unix_ms() / 1000 + secs;
    let (days, rest) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Pull request `number` as ade read it, open at `head_sha`: the head a merge names.
pub fn pull_at(number: i64, head_sha: &str) -> ForgePullRequest {
    ForgePullRequest {
        number,
        url: format!("https://forge.example.com/pulls/{number}"),
        title: "ade: task 1".into(),
        head_sha: head_sha.into(),
        head_branch: "ade/1-task".into(),
        base_branch: "main".into(),
        open: true,
        merged: false,
        draft: false,
        node_id: None,
    }
}
