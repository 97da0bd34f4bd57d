//! API keys and roles; keys are stored only as their SHA-256.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TenantId;
use crate::ids;

/// What a key may do within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May post events only.
    Ingest,
    /// May do everything within its tenant.
    Admin,
}

impl Role {
    pub fn may_ingest(self) -> bool {
        matches!(self, Self::Ingest | Self::Admin)
    }

    pub fn may_manage(self) -> bool {
        matches!(self, Self::Admin)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ingest" => Ok(Self::Ingest),
            "admin" => Ok(Self::Admin),
            _ => Err(format!("'{s}' is not a role (admin or ingest)")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ingest => "ingest",
            Self::Admin => "admin",
        })
    }
}

/// SHA-256 of a key, hex encoded: the only form in which keys are stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn of(plaintext: &str) -> Self {
        let digest = Sha256::digest(plaintext.as_bytes());
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so a lookup leaks nothing about how close a guess was.
    pub fn matches(&self, other: &ApiKeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// A stored API key. The plaintext is shown once, when the key is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub tenant: TenantId,
    pub role: Role,
    pub hash: ApiKeyHash,
    pub name: Option<String>,
    #[serde(with = "super::event::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl ApiKey {
    pub const PREFIX: &'static str = "tdk_";

    /// A new random key: the record to store, and the plaintext to show once.
    pub fn generate(tenant: TenantId, role: Role, name: Option<String>) -> (Self, String) {
        let plaintext = ids::random_token(Self::PREFIX);
        (
            Self::from_plaintext(&plaintext, tenant, role, name),
            plaintext,
        )
    }

    /// The record for a key whose plaintext the operator chose (such as a development key).
    pub fn from_plaintext(
        plaintext: &str,
        tenant: TenantId,
        role: Role,
        name: Option<String>,
    ) -> Self {
        Self {
            id: ids::new_id("key"),
            tenant,
            role,
            hash: ApiKeyHash::of(plaintext),
            name,
            created_at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_only_as_hashes() {
        let tenant = TenantId::parse("acme").unwrap();
        let (a, plain_a) = ApiKey::generate(tenant.clone(), Role::Admin, None);
        let (_, plain_b) = ApiKey::generate(tenant, Role::Ingest, None);
        assert_ne!(plain_a, plain_b);
        assert!(plain_a.starts_with("tdk_") && plain_a.len() > 40);
        assert!(a.hash.matches(&ApiKeyHash::of(&plain_a)));
        assert!(!a.hash.matches(&ApiKeyHash::of(&plain_b)));
        let stored = serde_json::to_string(&a).unwrap();
        assert!(!stored.contains(&plain_a), "the plaintext is never stored");
        // sha256("abc"), a published test vector.
        assert_eq!(
            ApiKeyHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles() {
        assert!(Role::Ingest.may_ingest() && !Role::Ingest.may_manage());
        assert!(Role::Admin.may_ingest() && Role::Admin.may_manage());
        for role in [Role::Ingest, Role::Admin] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert!("owner".parse::<Role>().is_err());
    }
}
