//! The deployment's RSA keys, which sign `saleor` deliveries that have no secret key (JWS):
//! the current one signs; a rotated-out one stays published in the JWKS for the overlap, so
//! receivers that cached the old key set keep verifying until they fetch the new one.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::signing::{Jwk, RsaKeyError, RsaSigningKey};

#[derive(Debug, Serialize, Deserialize)]
pub struct DeploymentKeys {
    pub current: RsaSigningKey,
    #[serde(default)]
    pub previous: Vec<RetiredRsaKey>,
    /// Bumped by every change; writes are conditional on it, so two rotations cannot both win.
    pub version: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RetiredRsaKey {
    pub key: RsaSigningKey,
    #[serde(with = "super::event::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

impl DeploymentKeys {
    /// The first key set of a deployment.
    pub fn generate() -> Result<Self, RsaKeyError> {
        Ok(Self {
            current: RsaSigningKey::generate()?,
            previous: Vec::new(),
            version: 1,
        })
    }

    /// Puts `new` in charge; the old key stays published for `overlap` (none: at once).
    pub fn rotate(&mut self, new: RsaSigningKey, overlap: Duration, now: DateTime<Utc>) {
        let old = std::mem::replace(&mut self.current, new);
        self.previous.insert(
            0,
            RetiredRsaKey {
                key: old,
                expires_at: now + overlap,
            },
        );
        self.previous.retain(|r| r.expires_at > now);
        self.version += 1;
    }

    /// The public keys receivers may meet at `now`: the current one and those in overlap.
    pub fn jwks(&self, now: DateTime<Utc>) -> Vec<Jwk> {
        std::iter::once(&self.current)
            .chain(
                self.previous
                    .iter()
                    .filter(|r| r.expires_at > now)
                    .map(|r| &r.key),
            )
            .map(RsaSigningKey::jwk)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_key_stays_published_for_the_overlap_only() {
        let now = Utc::now();
        let mut keys = DeploymentKeys::generate().unwrap();
        let first = keys.current.kid().to_owned();
        keys.rotate(RsaSigningKey::generate().unwrap(), Duration::hours(1), now);
        let second = keys.current.kid().to_owned();
        assert_eq!(keys.version, 2);
        let kids = |at| -> Vec<String> { keys.jwks(at).into_iter().map(|k| k.kid).collect() };
        assert_eq!(kids(now), vec![second.clone(), first]);
        assert_eq!(kids(now + Duration::hours(2)), vec![second]);
        let stored = serde_json::to_string(&keys).unwrap();
        let back: DeploymentKeys = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.jwks(now), keys.jwks(now));
    }
}
