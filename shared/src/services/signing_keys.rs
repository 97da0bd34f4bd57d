//! The deployment's RSA keys for Saleor's JWS: made on first use, rotated by the operator,
//! published as a JWKS.

use chrono::{Duration, Utc};

use super::ServiceError;
use crate::Backend;
use crate::domain::DeploymentKeys;
use crate::ports::store::StoreError;
use crate::signing::{Jwk, RsaSigningKey};

/// The current keys, made and stored when the deployment has none yet (two callers racing
/// to make them settle on whichever was stored first).
pub async fn current(backend: &Backend) -> Result<DeploymentKeys, ServiceError> {
    if let Some(keys) = backend.deployment_keys.get_deployment_keys().await? {
        return Ok(keys);
    }
    let keys = DeploymentKeys::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
    match backend
        .deployment_keys
        .put_deployment_keys(&keys, None)
        .await
    {
        Ok(()) => Ok(keys),
        Err(StoreError::Conflict) => backend
            .deployment_keys
            .get_deployment_keys()
            .await?
            .ok_or_else(|| ServiceError::Conflict("the signing keys changed meanwhile".into())),
        Err(e) => Err(e.into()),
    }
}

/// Puts a new key in charge; the old one stays in the JWKS for `overlap`.
pub async fn rotate(backend: &Backend, overlap: Duration) -> Result<DeploymentKeys, ServiceError> {
    let mut keys = current(backend).await?;
    let expected = keys.version;
    let new = RsaSigningKey::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
    keys.rotate(new, overlap, Utc::now());
    match backend
        .deployment_keys
        .put_deployment_keys(&keys, Some(expected))
        .await
    {
        Ok(()) => Ok(keys),
        Err(StoreError::Conflict) => Err(ServiceError::Conflict(
            "another rotation finished first; run it again if a new key is still wanted".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The public keys receivers may meet now.
pub async fn jwks(backend: &Backend) -> Result<Vec<Jwk>, ServiceError> {
    Ok(current(backend).await?.jwks(Utc::now()))
}
