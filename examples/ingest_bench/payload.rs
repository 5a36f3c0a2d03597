//! The deliveries the benchmark sends: signed GitHub `issue_comment` `created` bodies of a fixed
//! size, spread over a handful of repositories.
//!
//! Bodies are built and signed before any timed phase, so the client never measures its own HMAC
//! cost. A pool of distinct bodies is reused round-robin (a 10 s run at 10,000/s would otherwise
//! need 2.5 GB of bodies); each request still gets its own `X-GitHub-Delivery`, which is what ade
//! keys deliveries on, so every request is a new delivery to the service.

use ::ade::ingress::signature::sign_github;
use axum::body::Bytes;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinct bodies in the pool: enough that repositories, issues and comment ids vary, few enough
/// that the pool (about 25 MB at 25 KB each) is built in well under a second.
const POOL: usize = 1024;

/// One pre-signed body.
pub struct Signed {
    /// The JSON body exactly as signed.
    pub body: Bytes,
    /// `sha256=<hex>`, the `X-Hub-Signature-256` value.
    pub signature: String,
}

/// The pool of signed bodies and the source of unique delivery ids.
pub struct Deliveries {
    pool: Vec<Signed>,
    /// Makes delivery ids unique across runs that share a database (PostgreSQL, `--keep`).
    nonce: u32,
    next_id: AtomicU64,
}

impl Deliveries {
    /// Builds and signs `POOL` bodies of exactly `body_bytes` bytes over `repositories` repos.
    pub fn build(
        secret: &str,
        body_bytes: usize,
        repositories: usize,
    ) -> anyhow::Result<Deliveries> {
        let mut pool = Vec::with_capacity(POOL);
        for i in 0..POOL {
            let body = issue_comment(i, repositories.max(1), body_bytes)?;
            let signature = sign_github(secret, &body);
            pool.push(Signed {
                body: Bytes::from(body),
                signature,
            });
        }
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos()
            ^ std::process::id().rotate_left(16);
        Ok(Deliveries {
            pool,
            nonce,
            next_id: AtomicU64::new(0),
        })
    }

    /// The body for request number `n` (bodies repeat every `POOL` requests).
    pub fn body(&self, n: u64) -> &Signed {
        &self.pool[(n % self.pool.len() as u64) as usize]
    }

    /// A fresh UUID-shaped delivery id, as GitHub sends.
    pub fn next_delivery_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.nonce,
            (n >> 48) & 0xffff,
            (n >> 36) & 0xfff,
            (n >> 24) & 0xfff,
            n & 0xff_ffff
        )
    }

    /// The size of every body, in bytes.
    pub fn body_len(&self) -> usize {
        self.pool[0].body.len()
    }

    /// Every body of the pool, for the disk floor to insert the same rows.
    pub fn all_bodies(&self) -> impl Iterator<Item = &Bytes> {
        self.pool.iter().map(|s| &s.body)
    }
}

/// A GitHub `issue_comment` `created` body in the shape github.com sends (the fields ade and a
/// typical consumer read, plus some of the URL noise), with the comment padded so the whole body
/// is exactly `size` bytes.
fn issue_comment(i: usize, repositories: usize, size: usize) -> anyhow::Result<Vec<u8>> {
    let repo = i % repositories;
    let owner = "ade-bench";
    let name = format!("service-{repo}");
    let full_name = format!("{owner}/{name}");
    let number = 100 + (i / repositories) as i64;
    let comment_id = 2_000_000_000 + i as i64;
    let user = |login: &str, id: i64| {
        json!({
            "login": login,
            "id": id,
            "node_id": format!("MDQ6VXNlcj{id}"),
            "type": "User",
            "site_admin": false,
            "html_url": format!("https://github.com/{login}"),
        })
    };
    let commenter = user(&format!("reviewer-{}", i % 7), 5_000 + (i % 7) as i64);
    let prefix = "Thanks for the report. I could reproduce it on main; the log of the failing run \
                  follows.\n\n```\n";
    let mut value = json!({
        "action": "created",
        "issue": {
            "url": format!("https://api.github.com/repos/{full_name}/issues/{number}"),
            "html_url": format!("https://github.com/{full_name}/issues/{number}"),
            "id": 1_000_000 + i as i64,
            "number": number,
            "title": format!("Webhook deliveries are retried after a restart (#{number})"),
            "body": "When the runner restarts, deliveries that were in flight are sent again.\n\n\
                     - [ ] find where the lease is dropped\n- [ ] add a test that restarts mid-queue",
            "user": user("octocat", 1),
            "labels": [
                { "id": 208_045_946, "name": "bug", "color": "d73a4a", "default": true },
                { "id": 208_045_947, "name": "ade", "color": "0e8a16", "default": false },
            ],
            "state": "open",
            "locked": false,
            "comments": 3,
            "created_at": "2025-01-14T09:12:41Z",
            "updated_at": "2025-01-15T17:03:09Z",
            "author_association": "OWNER",
        },
        "comment": {
            "url": format!("https://api.github.com/repos/{full_name}/issues/comments/{comment_id}"),
            "html_url": format!("https://github.com/{full_name}/issues/{number}#issuecomment-{comment_id}"),
            "id": comment_id,
            "node_id": format!("IC_kwDOB{comment_id}"),
            "body": prefix,
            "user": commenter,
            "created_at": "2025-01-15T17:03:09Z",
            "updated_at": "2025-01-15T17:03:09Z",
            "author_association": "MEMBER",
        },
        "repository": {
            "id": 700_000_000 + repo as i64,
            "node_id": format!("R_kgDOK{repo}"),
            "name": name,
            "full_name": full_name,
            "private": repo % 2 == 1,
            "owner": user(owner, 90_000_000),
            "html_url": format!("https://github.com/{full_name}"),
            "default_branch": "main",
        },
        "sender": commenter,
        "installation": { "id": 40_000_000 + (repo % 3) as i64, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" },
    });
    let base = serde_json::to_vec(&value)?.len();
    // Log lines need no JSON escaping, so each filler byte is one body byte.
    const LINE: &str = "2025-01-15T17:02:58Z worker-3 delivery 72d3162e requeued: lease expired before the heartbeat  ";
    let pad = size.checked_sub(base).ok_or_else(|| {
        anyhow::anyhow!("--body-bytes {size} is smaller than the bare payload ({base} bytes)")
    })?;
    let filler: String = LINE.chars().cycle().take(pad).collect();
    value["comment"]["body"] = format!("{prefix}{filler}").into();
    let body = serde_json::to_vec(&value)?;
    anyhow::ensure!(
        body.len() == size,
        "padded body is {} bytes, not {size}",
        body.len()
    );
    Ok(body)
}
