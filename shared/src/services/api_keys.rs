//! API keys: create one (its plaintext is shown once), list them, revoke one. A tenant keeps
//! at least one admin key, so it can never lock itself out.

use super::ServiceError;
use crate::Backend;
use crate::domain::{ApiKey, Role, TenantId, ValidationError};
use crate::ports::store::StoreError;

/// The longest `name` a key may carry.
const MAX_NAME: usize = 128;

/// A new key of `tenant`: the stored record and the plaintext, to show only this once.
pub async fn create(
    backend: &Backend,
    tenant: &TenantId,
    role: Role,
    name: Option<String>,
) -> Result<(ApiKey, String), ServiceError> {
    if name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME) {
        return Err(ValidationError::new("name", "must be at most 128 characters").into());
    }
    let (key, plaintext) = ApiKey::generate(tenant.clone(), role, name);
    backend.api_keys.put_api_key(&key).await?;
    Ok((key, plaintext))
}

/// Stores a key whose plaintext the operator chose (the local runner's development key);
/// storing it again is not an error.
pub async fn install(backend: &Backend, key: &ApiKey) -> Result<(), ServiceError> {
    match backend.api_keys.put_api_key(key).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(backend: &Backend, tenant: &TenantId) -> Result<Vec<ApiKey>, ServiceError> {
    Ok(backend.api_keys.list_api_keys(tenant).await?)
}

/// Revokes a key of `tenant`. The tenant's last admin key cannot be revoked (`Conflict`):
/// a key may revoke itself only while another admin key exists.
pub async fn revoke(backend: &Backend, tenant: &TenantId, id: &str) -> Result<(), ServiceError> {
    let keys = backend.api_keys.list_api_keys(tenant).await?;
    let target = keys
        .iter()
        .find(|k| k.id == id)
        .ok_or(ServiceError::NotFound("API key"))?;
    let other_admins = keys
        .iter()
        .filter(|k| k.role == Role::Admin && k.id != id)
        .count();
    if target.role == Role::Admin && other_admins == 0 {
        return Err(ServiceError::Conflict(format!(
            "{id} is the tenant's last admin key: create another admin key first, or the \
             tenant could no longer manage its subscriptions"
        )));
    }
    if backend.api_keys.delete_api_key(tenant, id).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("API key"))
    }
}
