//! The tenant's own settings: BareCommerce's `storeId` and Saleor's default domain.

use super::ServiceError;
use crate::Backend;
use crate::domain::{TenantId, TenantSettings, fields};

/// Only the fields given change; an empty string clears one.
#[derive(Debug, Clone, Default)]
pub struct UpdateTenant {
    pub store_id: Option<String>,
    pub saleor_domain: Option<String>,
}

pub async fn get(backend: &Backend, tenant: &TenantId) -> Result<TenantSettings, ServiceError> {
    Ok(backend.tenants.get_tenant_settings(tenant).await?)
}

pub async fn update(
    backend: &Backend,
    tenant: &TenantId,
    req: UpdateTenant,
) -> Result<TenantSettings, ServiceError> {
    let mut settings = get(backend, tenant).await?;
    if let Some(store_id) = req.store_id {
        settings.store_id = match store_id.as_str() {
            "" => None,
            id => Some(TenantSettings::check_store_id(id)?),
        };
    }
    if let Some(domain) = req.saleor_domain {
        settings.saleor_domain = match domain.trim() {
            "" => None,
            domain => Some(fields::saleor_domain(domain)?),
        };
    }
    backend
        .tenants
        .put_tenant_settings(tenant, &settings)
        .await?;
    Ok(settings)
}
