//! `/v1/tenant`: the calling tenant's settings.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller};
use crate::domain::TenantSettings;
use crate::services::tenants;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/tenant", get(fetch).patch(update))
}

/// The tenant's settings, which the delivery formats read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Tenant)]
struct TenantView {
    #[schema(example = "acme")]
    id: String,
    /// The `storeId` of `barecommerce` deliveries (default: the tenant id).
    #[schema(example = "store_42")]
    store_id: String,
    /// The `Saleor-Domain` of `saleor` deliveries whose subscription sets none (default:
    /// the API's own domain).
    #[schema(required = true, example = "shop.example.com")]
    saleor_domain: Option<String>,
}

impl TenantView {
    fn new(caller: &Caller, settings: TenantSettings) -> Self {
        Self {
            id: caller.tenant.to_string(),
            store_id: settings.store_id(&caller.tenant).to_owned(),
            saleor_domain: settings.saleor_domain,
        }
    }
}

/// Only the fields given change; an empty string goes back to the default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"store_id": "store_42"}))]
struct UpdateTenant {
    /// 1 to 128 printable ASCII characters without spaces.
    #[schema(max_length = 128)]
    store_id: Option<String>,
    /// A bare host name with an optional `:port`.
    #[schema(max_length = 253)]
    saleor_domain: Option<String>,
}

/// Get the tenant's settings
#[utoipa::path(
    get,
    path = "/v1/tenant",
    operation_id = "getTenant",
    tag = "tenant",
    responses((status = 200, description = "The tenant's settings", body = TenantView)),
    security(("bearer" = []))
)]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TenantView>, ApiError> {
    caller.require_admin()?;
    let settings = tenants::get(&state.backend, &caller.tenant).await?;
    Ok(Json(TenantView::new(&caller, settings)))
}

/// Change the tenant's settings
#[utoipa::path(
    patch,
    path = "/v1/tenant",
    operation_id = "updateTenant",
    tag = "tenant",
    request_body(content = UpdateTenant, content_type = "application/json"),
    responses((status = 200, description = "The tenant's settings", body = TenantView)),
    security(("bearer" = []))
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<UpdateTenant>, JsonRejection>,
) -> Result<Json<TenantView>, ApiError> {
    caller.require_admin()?;
    let Json(req) = body?;
    let req = tenants::UpdateTenant {
        store_id: req.store_id,
        saleor_domain: req.saleor_domain,
    };
    let settings = tenants::update(&state.backend, &caller.tenant, req).await?;
    Ok(Json(TenantView::new(&caller, settings)))
}
