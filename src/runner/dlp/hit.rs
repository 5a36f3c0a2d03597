//! What every detector reports: the bottom of `dlp`, shared by the built-in detectors
//! (`detectors.rs`), the assignment detector (`assignment.rs`) and the policy's own rules.

/// A credential found on one line, before it becomes a [`super::Finding`].
pub(super) struct Hit {
    /// The rule that found it.
    pub rule: String,
    /// Byte span in the scanned text (for telling overlapping hits apart).
    pub start: usize,
    /// End of the span.
    pub end: usize,
    /// The secret itself; it is hashed and measured, never shown.
    pub secret: String,
    /// How many leading characters of the secret are its fixed, public prefix (`ghp_`).
    pub shown: usize,
}
