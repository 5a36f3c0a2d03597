//! A route's query parameters, read strictly: a parameter the route does not take, one given
//! twice, or a value that does not read is a 400 naming it, never silently ignored.

use super::error::ApiError;
use std::collections::BTreeMap;

/// The most items one page holds, and how many it holds when `limit` is not given.
pub const MAX_LIMIT: i64 = 200;
const DEFAULT_LIMIT: i64 = 50;

/// The query parameters of one request.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Reads `query` (the part after `?`), refusing any name not in `known`.
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Params, ApiError> {
        let mut params = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !known.contains(&name.as_ref()) {
                let takes = if known.is_empty() {
                    "no parameters".to_string()
                } else {
                    known.join(", ")
                };
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {:?}; this route takes {takes}",
                    crate::telemetry::shown(&name),
                )));
            }
            if params.insert(name.to_string(), value.to_string()).is_some() {
                return Err(ApiError::bad_request(format!(
                    "parameter {:?} is given twice",
                    crate::telemetry::shown(&name)
                )));
            }
        }
        Ok(Params(params))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of `name` read by `read`, if given; `what` says what it should be.
    pub fn read<'a, T>(
        &'a self,
        name: &str,
        what: &str,
        read: impl FnOnce(&'a str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("parameter {name:?} must be {what}"))),
        }
    }

    /// `limit` (1 to [`MAX_LIMIT`], 50 when absent) and `before` (an id, to page on).
    pub fn page(&self) -> Result<(i64, Option<i64>), ApiError> {
        let limit = self
            .read("limit", &format!("a number from 1 to {MAX_LIMIT}"), |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
            })?
            .unwrap_or(DEFAULT_LIMIT);
        let before = self.read("before", "an id, a positive number", |v| {
            v.parse::<i64>().ok().filter(|n| *n > 0)
        })?;
        Ok((limit, before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_parameters_are_read_and_anything_else_is_refused_by_name() {
        let known = ["limit", "before", "repository"];
        let params = Params::parse(Some("limit=5&repository=acme%2Fwidgets"), &known).unwrap();
        assert_eq!(params.page().unwrap(), (5, None));
        assert_eq!(params.get("repository"), Some("acme/widgets"));
        assert_eq!(
            Params::parse(None, &known).unwrap().page().unwrap(),
            (50, None)
        );

        for (query, says) in [
            ("colour=red", "unknown parameter \"colour\""),
            ("limit=1&limit=2", "given twice"),
            ("limit=0", "\"limit\" must be a number from 1 to 200"),
            ("limit=201", "\"limit\" must be"),
            ("limit=ten", "\"limit\" must be"),
            ("before=-3", "\"before\" must be an id"),
        ] {
            let refused = Params::parse(Some(query), &known).and_then(|p| p.page());
            let error = refused.expect_err(query);
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(error.message().contains(says), "{query}: {error:?}");
        }
    }
}
