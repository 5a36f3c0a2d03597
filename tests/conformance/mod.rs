//! The forges' published descriptions in ../shared/corpus as a checker, shared by the test
//! binaries that talk to a forge: a request, an answer or a webhook body against what GitHub,
//! Gitea or Forgejo documents for that operation or event. It checks paths, methods, parameters
//! and statuses; JSON shapes, enums and types; string formats (`uri`, `uri-template`,
//! `date-time`, `date`, `email`) and integer widths; `null` only where the description allows
//! one; required fields; and no fields the description lacks. Each description is read once per
//! process. Without the corpus every check passes after printing `skipped: …`, so the tests that
//! use it still run. docs/simulator.md says what is checked where.

pub mod description;
pub mod formats;
pub mod record;
pub mod schema;
pub mod webhooks;
