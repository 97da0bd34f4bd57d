//! The one validation error: which field broke which rule.

use thiserror::Error;

/// A value that breaks a rule, naming the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {rule}")]
pub struct ValidationError {
    /// The field, as the client named it (`type`, `events[1]`, `url`…).
    pub field: String,
    /// The rule it broke, in words.
    pub rule: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}
