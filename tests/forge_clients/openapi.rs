//! The fake's recorded requests in the terms of the shared checker (tests/conformance), and the
//! assertion the client tests make with it. The fakes' answers are fixtures kept small on
//! purpose, so they are read as samples: what is there must be right (types, enums, formats),
//! but fields may be left out, and nulls the client must survive may stand anywhere.

use super::conformance::description::{Request, Spec};
use super::conformance::schema::Reading;
use super::fake::Recorded;

impl Recorded {
    /// The request as the checker reads it.
    pub fn request(&self) -> Request {
        Request {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            body: self.body.clone(),
        }
    }
}

/// Checks every request, and every JSON answer the fake gave to it, against every description
/// given; panics listing all departures.
pub fn assert_conforms(specs: &[Spec], requests: &[Recorded]) {
    let mut errors = Vec::new();
    for spec in specs {
        for recorded in requests {
            let request = recorded.request();
            errors.extend(spec.check_request(&request));
            if let Some((status, Some(body))) = &recorded.answer {
                errors.extend(spec.check_answer(&request, *status, body, Reading::Sample));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "requests depart from the API descriptions:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
