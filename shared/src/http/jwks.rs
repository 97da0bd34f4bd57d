//! `GET /.well-known/jwks.json`: the public keys that verify `saleor` deliveries signed with
//! a JWS. No API key: Saleor apps fetch it from the origin of `Saleor-Api-Url`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::services::signing_keys;
use crate::signing::Jwk;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

/// How long receivers may cache the key set: well inside a rotation's overlap.
const CACHE_CONTROL: &str = "public, max-age=300";

/// An RSA public key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Jwk)]
struct JwkView {
    #[schema(example = "RSA")]
    kty: &'static str,
    #[schema(example = json!(["verify"]))]
    key_ops: [&'static str; 1],
    /// The modulus, base64url.
    n: String,
    /// The exponent, base64url.
    #[schema(example = "AQAB")]
    e: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    use_: &'static str,
    /// The RFC 7638 thumbprint, the `kid` of the JWS headers it verifies.
    kid: String,
    #[schema(example = "RS256")]
    alg: &'static str,
}

impl From<Jwk> for JwkView {
    fn from(k: Jwk) -> Self {
        Self {
            kty: k.kty,
            key_ops: k.key_ops,
            n: k.n,
            e: k.e,
            use_: k.use_,
            kid: k.kid,
            alg: k.alg,
        }
    }
}

/// The deployment's key set.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Jwks)]
struct JwksView {
    /// The current key first, then any key still in a rotation's overlap.
    keys: Vec<JwkView>,
}

/// Get the JSON Web Key Set
///
/// The public keys that verify `Saleor-Signature` JWS headers. No API key needed.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "getJwks",
    tag = "meta",
    responses((status = 200, description = "The key set", body = JwksView))
)]
async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let keys = signing_keys::jwks(&state.backend).await?;
    Ok((
        [(header::CACHE_CONTROL, CACHE_CONTROL)],
        Json(JwksView {
            keys: keys.into_iter().map(JwkView::from).collect(),
        }),
    ))
}
