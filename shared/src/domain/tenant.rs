//! Tenant ids: the shop or account everything belongs to.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// The shop (or account) that owns subscriptions, events and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct TenantId(String);

id_as_text!(TenantId);

impl TenantId {
    /// 1 to 64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        Self::check(value).map(|()| Self(value.to_owned()))
    }

    /// The rule [`Self::parse`] and reading back from a record apply.
    fn check(value: &str) -> Result<(), ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(())
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

/// A tenant's own settings, as the dialects need them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// BareCommerce's `storeId` (the tenant id when unset).
    #[serde(default)]
    pub store_id: Option<String>,
    /// Saleor's `Saleor-Domain` for subscriptions that set none (the API's own when unset).
    #[serde(default)]
    pub saleor_domain: Option<String>,
}

impl TenantSettings {
    /// The longest `store_id`.
    pub const MAX_STORE_ID: usize = 128;

    /// The `storeId` BareCommerce deliveries carry.
    pub fn store_id<'a>(&'a self, tenant: &'a TenantId) -> &'a str {
        self.store_id.as_deref().unwrap_or(tenant.as_str())
    }

    /// 1 to 128 printable ASCII characters.
    pub fn check_store_id(store_id: &str) -> Result<String, ValidationError> {
        let ok = !store_id.is_empty()
            && store_id.len() <= Self::MAX_STORE_ID
            && store_id.bytes().all(|b| (0x21..0x7f).contains(&b));
        if ok {
            Ok(store_id.to_owned())
        } else {
            Err(ValidationError::new(
                "store_id",
                "must be 1 to 128 printable ASCII characters without spaces",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_id_defaults_to_the_tenant_id() {
        let tenant = TenantId::parse("acme").unwrap();
        let mut settings = TenantSettings::default();
        assert_eq!(settings.store_id(&tenant), "acme");
        settings.store_id = Some("store_42".into());
        assert_eq!(settings.store_id(&tenant), "store_42");
        assert!(TenantSettings::check_store_id("store_42").is_ok());
        for bad in ["", "has space", &"x".repeat(129)] {
            assert_eq!(
                TenantSettings::check_store_id(bad).unwrap_err().field,
                "store_id"
            );
        }
    }

    #[test]
    fn tenant_ids_follow_the_rule() {
        assert!(TenantId::parse("acme").is_ok());
        assert!(TenantId::parse("shop-42_eu").is_ok());
        for bad in ["", "Acme", "-acme", "a b", "acme#1", &"a".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
