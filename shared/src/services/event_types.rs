//! Event types: the catalog and each tenant's own registered types; checking the exact
//! types a subscription names, with "did you mean" suggestions.

use super::ServiceError;
use crate::Backend;
use crate::domain::catalog::{self, CATALOG};
use crate::domain::{EventType, TenantId, ValidationError};
use crate::ports::store::{CustomEventType, StoreError};

/// Checks exact event types against the catalog and the tenant's own types, suggesting the
/// closest names for a misspelling.
pub(super) async fn known_types(
    backend: &Backend,
    tenant: &TenantId,
) -> Result<impl Fn(&EventType) -> Result<(), String>, StoreError> {
    let custom: Vec<String> = backend
        .event_types
        .list_event_types(tenant)
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    Ok(move |t: &EventType| {
        let name = t.as_str();
        if catalog::catalog_entry(name).is_some() || custom.iter().any(|c| c == name) {
            return Ok(());
        }
        let known = CATALOG
            .iter()
            .map(|e| e.name)
            .chain(custom.iter().map(String::as_str));
        let suggestions = catalog::suggest(name, known);
        let hint = match suggestions.as_slice() {
            [] => String::new(),
            names => format!(" (did you mean '{}'?)", names.join("' or '")),
        };
        Err(format!(
            "'{name}' is not a known event type{hint}; see GET /v1/event-types, register it \
             with POST /v1/event-types, or use a wildcard such as 'order.*'"
        ))
    })
}

/// An entry of `GET /v1/event-types`.
pub struct EventTypeInfo {
    pub name: String,
    pub description: String,
    pub custom: bool,
}

pub async fn list(
    backend: &Backend,
    tenant: &TenantId,
) -> Result<Vec<EventTypeInfo>, ServiceError> {
    let mut all: Vec<EventTypeInfo> = CATALOG
        .iter()
        .map(|e| EventTypeInfo {
            name: e.name.to_owned(),
            description: e.description.to_owned(),
            custom: false,
        })
        .chain(
            backend
                .event_types
                .list_event_types(tenant)
                .await?
                .into_iter()
                .map(|t| EventTypeInfo {
                    name: t.name.to_string(),
                    description: t.description,
                    custom: true,
                }),
        )
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

#[derive(Debug, Clone)]
pub struct RegisterEventType {
    /// Lowercase dot-separated words, not in the catalog.
    pub name: String,
    /// One line of 1 to 256 characters.
    pub description: String,
}

pub async fn register(
    backend: &Backend,
    tenant: &TenantId,
    req: RegisterEventType,
) -> Result<CustomEventType, ServiceError> {
    let name = EventType::parse(&req.name).map_err(|e| ValidationError::new("name", e.rule))?;
    let description = req.description.trim().to_owned();
    if description.is_empty() || description.chars().count() > 256 || description.contains('\n') {
        return Err(
            ValidationError::new("description", "must be one line of 1 to 256 characters").into(),
        );
    }
    if catalog::catalog_entry(name.as_str()).is_some() {
        return Err(ServiceError::Conflict(format!(
            "'{name}' is already in the catalog"
        )));
    }
    let custom = CustomEventType { name, description };
    match backend.event_types.put_event_type(tenant, &custom).await {
        Err(StoreError::Conflict) => Err(ServiceError::Conflict(format!(
            "'{}' is already registered",
            custom.name
        ))),
        other => {
            other?;
            Ok(custom)
        }
    }
}
