//! Links to run logs that only their holder can open: `/runs/<run>/log?v=<verification>&exp=<unix
//! seconds>&sig=<hex>`, where the signature is an HMAC-SHA256, under a key shared by every ade
//! process on the database, of the run, the verification and the expiry. A check's details link
//! and the approval's report carry one; without a valid, unexpired signature the log is not served.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a log link works after it is made.
pub const LINK_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// Makes and checks log links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    base: Option<String>,
}

/// What a valid link opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTarget {
    /// The run.
    pub run: i64,
    /// The verification whose log it is, or 0 for the run's own log.
    pub verification: i64,
}

/// Why a link was refused (said to nobody but the log: a refused link gets a plain 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// A parameter is missing or not a number.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// It expired.
    Expired,
}

impl LinkSigner {
    /// A signer with `key` (hex, as the store keeps it; any bytes work) building links under
    /// `public_url` (`server.public_url`); without one, no links are made.
    pub fn new(key: &str, public_url: Option<&str>) -> LinkSigner {
        LinkSigner {
            key: hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec()),
            base: public_url.map(|url| url.trim_end_matches('/').to_string()),
        }
    }

    /// The link to `target`'s log, valid until `now_secs + LINK_LIFETIME_SECS`, or `None` when
    /// ade has no public URL.
    pub fn link(&self, target: LogTarget, now_secs: i64) -> Option<String> {
        let base = self.base.as_ref()?;
        let exp = now_secs + LINK_LIFETIME_SECS;
        Some(format!(
            "{base}/runs/{}/log?v={}&exp={exp}&sig={}",
            target.run,
            target.verification,
            self.sign(target, exp)
        ))
    }

    /// Checks a link's parts; the target when the signature holds and it has not expired.
    pub fn check(
        &self,
        run: i64,
        verification: Option<&str>,
        exp: Option<&str>,
        sig: Option<&str>,
        now_secs: i64,
    ) -> Result<LogTarget, LinkRefusal> {
        let verification: i64 = verification
            .and_then(|v| v.parse().ok())
            .ok_or(LinkRefusal::Malformed)?;
        let exp: i64 = exp
            .and_then(|v| v.parse().ok())
            .ok_or(LinkRefusal::Malformed)?;
        let sig = sig
            .and_then(|s| hex::decode(s).ok())
            .ok_or(LinkRefusal::Malformed)?;
        let target = LogTarget { run, verification };
        // `verify_slice` compares in constant time.
        self.mac(target, exp)
            .verify_slice(&sig)
            .map_err(|_| LinkRefusal::BadSignature)?;
        if exp < now_secs {
            return Err(LinkRefusal::Expired);
        }
        Ok(target)
    }

    /// The link to planner run `plan`'s log (`/plans/<plan>/log?exp=…&sig=…`), valid as long as
    /// a run log's link, or `None` when ade has no public URL.
    pub fn plan_link(&self, plan: i64, now_secs: i64) -> Option<String> {
        let base = self.base.as_ref()?;
        let exp = now_secs + LINK_LIFETIME_SECS;
        Some(format!(
            "{base}/plans/{plan}/log?exp={exp}&sig={}",
            hex::encode(self.plan_mac(plan, exp).finalize().into_bytes())
        ))
    }

    /// Checks a planner log link's parts: its planner run when the signature holds and it has
    /// not expired.
    pub fn check_plan(
        &self,
        plan: i64,
        exp: Option<&str>,
        sig: Option<&str>,
        now_secs: i64,
    ) -> Result<i64, LinkRefusal> {
        let exp: i64 = exp
            .and_then(|v| v.parse().ok())
            .ok_or(LinkRefusal::Malformed)?;
        let sig = sig
            .and_then(|s| hex::decode(s).ok())
            .ok_or(LinkRefusal::Malformed)?;
        self.plan_mac(plan, exp)
            .verify_slice(&sig)
            .map_err(|_| LinkRefusal::BadSignature)?;
        if exp < now_secs {
            return Err(LinkRefusal::Expired);
        }
        Ok(plan)
    }

    /// A planner log's MAC: its own prefix, so no run log link opens a planner's log.
    fn plan_mac(&self, plan: i64, exp: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("ade-plan-log:{plan}:{exp}").as_bytes());
        mac
    }

    fn sign(&self, target: LogTarget, exp: i64) -> String {
        hex::encode(self.mac(target, exp).finalize().into_bytes())
    }

    fn mac(&self, target: LogTarget, exp: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("ade-log:{}:{}:{exp}", target.run, target.verification).as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn parts(link: &str) -> (i64, String, String, String) {
        let (path, query) = link.split_once('?').unwrap();
        let run = path.split('/').nth_back(1).unwrap().parse().unwrap();
        let mut v = String::new();
        let mut exp = String::new();
        let mut sig = String::new();
        for pair in query.split('&') {
            let (k, val) = pair.split_once('=').unwrap();
            match k {
                "v" => v = val.into(),
                "exp" => exp = val.into(),
                "sig" => sig = val.into(),
                _ => panic!("unexpected {k}"),
            }
        }
        (run, v, exp, sig)
    }

    #[test]
    fn a_planner_log_link_opens_that_planner_log_only() {
        let signer = LinkSigner::new("00ff", Some("https://ade.example.com"));
        let link = signer.plan_link(4, NOW).unwrap();
        assert!(
            link.starts_with("https://ade.example.com/plans/4/log?exp="),
            "{link}"
        );
        let query = link.split_once('?').unwrap().1;
        let (mut exp, mut sig) = (String::new(), String::new());
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            match k {
                "exp" => exp = v.into(),
                "sig" => sig = v.into(),
                _ => panic!("unexpected {k}"),
            }
        }
        assert_eq!(signer.check_plan(4, Some(&exp), Some(&sig), NOW), Ok(4));
        assert_eq!(
            signer.check_plan(5, Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature)
        );
        assert_eq!(
            signer.check(4, Some("0"), Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature),
            "a planner's link opens no run log"
        );
        assert_eq!(
            signer.check_plan(4, Some(&exp), Some(&sig), NOW + LINK_LIFETIME_SECS + 1),
            Err(LinkRefusal::Expired)
        );
    }

    #[test]
    fn a_link_opens_its_own_log_until_it_expires_and_nothing_else() {
        let signer = LinkSigner::new("00ff", Some("https://ade.example.com/"));
        let link = signer
            .link(
                LogTarget {
                    run: 7,
                    verification: 3,
                },
                NOW,
            )
            .unwrap();
        assert!(
            link.starts_with("https://ade.example.com/runs/7/log?v=3&exp="),
            "{link}"
        );
        let (run, v, exp, sig) = parts(&link);
        assert_eq!(
            signer.check(run, Some(&v), Some(&exp), Some(&sig), NOW),
            Ok(LogTarget {
                run: 7,
                verification: 3
            })
        );
        assert_eq!(
            signer.check(8, Some(&v), Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature),
            "another run"
        );
        assert_eq!(
            signer.check(run, Some("4"), Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature),
            "another verification"
        );
        let later = (exp.parse::<i64>().unwrap() + 10).to_string();
        assert_eq!(
            signer.check(run, Some(&v), Some(&later), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature),
            "a stretched expiry"
        );
        assert_eq!(
            signer.check(
                run,
                Some(&v),
                Some(&exp),
                Some(&sig),
                NOW + LINK_LIFETIME_SECS + 1
            ),
            Err(LinkRefusal::Expired)
        );
        assert_eq!(
            signer.check(run, None, Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::Malformed)
        );
        assert_eq!(
            signer.check(run, Some(&v), Some(&exp), Some("zz"), NOW),
            Err(LinkRefusal::Malformed)
        );
        let other = LinkSigner::new("01ff", Some("https://ade.example.com"));
        assert_eq!(
            other.check(run, Some(&v), Some(&exp), Some(&sig), NOW),
            Err(LinkRefusal::BadSignature),
            "another key"
        );
    }

    #[test]
    fn without_a_public_url_there_are_no_links() {
        let signer = LinkSigner::new("00ff", None);
        assert_eq!(
            signer.link(
                LogTarget {
                    run: 1,
                    verification: 0
                },
                NOW
            ),
            None
        );
    }
}
