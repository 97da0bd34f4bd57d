//! Tenant ids: the shop or account everything belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// The shop (or account) that owns subscriptions, events and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// 1 to 64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(ValidationError::new(
                "tenant",
                "must be 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_rule() {
        assert!(TenantId::parse("acme").is_ok());
        assert!(TenantId::parse("shop-42_eu").is_ok());
        for bad in ["", "Acme", "-acme", "a b", "acme#1", &"a".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
