//! Bearer API keys: each maps to one tenant and one role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::domain::{ApiKeyHash, Role, TenantId};

/// Who is calling: the tenant and role of the presented key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
}

impl Caller {
    pub fn require_ingest(&self) -> Result<(), ApiError> {
        if self.role.may_ingest() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("post events"))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role.may_manage() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("manage subscriptions"))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let hash = ApiKeyHash::of(key);
        let stored = state
            .backend
            .api_keys
            .find_api_key(&hash)
            .await?
            .filter(|k| k.hash.matches(&hash))
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self {
            tenant: stored.tenant,
            role: stored.role,
        })
    }
}
