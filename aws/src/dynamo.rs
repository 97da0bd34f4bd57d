//! The stores on one DynamoDB table (`pk`, `sk`, TTL on `expires_at`).
//!
//! | item          | pk                                 | sk                    |
//! |---------------|------------------------------------|-----------------------|
//! | subscription  | `TENANT#{tenant}`                  | `SUBSCRIPTION#{id}`   |
//! | event (dedup) | `EVENT#{tenant}#{event id}`        | `EVENT`               |
//! | delivery      | `DELIVERY#{tenant}#{id}`           | `DELIVERY`            |
//! | API key       | `APIKEY#{sha256 of the key}`       | `APIKEY`              |
//! | key listing   | `TENANT#{tenant}`                  | `APIKEY#{key id}`     |
//! | custom type   | `TENANT#{tenant}`                  | `EVENTTYPE#{name}`    |
//! | settings      | `TENANT#{tenant}`                  | `SETTINGS`            |
//! | JWS keys      | `DEPLOYMENT`                       | `SIGNING_KEYS`        |
//!
//! Events and deliveries get a partition each, so a busy tenant spreads across partitions.
//! The index `by_subscription` (`gsi1pk` = `SUBSCRIPTION#{tenant}#{subscription}`, `gsi1sk`
//! = delivery id) lists a subscription's deliveries in id (time) order with one query.
//!
//! ## Secrets at rest
//!
//! No secret is written in the clear. The secret-bearing attributes of each kind of item
//! ([`SecretAttributes`]: [`SUBSCRIPTION_SECRETS`], [`DEPLOYMENT_KEY_SECRETS`]) are sealed
//! by [`SecretCipher`] (envelope encryption under a KMS data key) on their way in and opened
//! on their way out, in one place: `DynamoStore::seal_item` and `DynamoStore::open_item`.
//! Each sealed value is bound to its item's key (`pk`, `sk`), so it does not open in another
//! item. A value written before encryption (not `tdenc1:…`) is read as it is and sealed by
//! the next write of its item, or by [`DynamoStore::reencrypt_secrets`]
//! (`tidings-local reencrypt-secrets`).
//!
//! A new kind of item that holds a secret gets its own [`SecretAttributes`] list, passes its
//! item through `seal_item` before writing and `open_item` after reading, and joins
//! [`secret_attributes_of`] so that `reencrypt-secrets` covers it. A single value can also be
//! sealed on its own: [`DynamoStore::seal_str`] / [`DynamoStore::open_str`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cipher::{SecretCipher, is_sealed};
use tidings::domain::{
    ApiKey, ApiKeyHash, DeliveryRecord, DeploymentKeys, EventId, EventType, Subscription,
    SubscriptionId, SubscriptionRoute, TenantId, TenantSettings,
};
use tidings::ports::store::*;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    cipher: Arc<SecretCipher>,
}

/// The attributes of one kind of item that hold secrets: a string attribute (`None`), or a
/// list of maps and the string field of each (`Some(field)`).
pub type SecretAttributes = [(&'static str, Option<&'static str>)];

/// A subscription's secrets and Ed25519 signing keys.
pub const SUBSCRIPTION_SECRETS: &SecretAttributes = &[
    ("secret", None),
    ("previous_secrets", Some("secret")),
    ("signing_key", None),
    ("previous_signing_keys", Some("key")),
];

/// The deployment's RSA private keys (Saleor JWS), current and rotated out.
pub const DEPLOYMENT_KEY_SECRETS: &SecretAttributes =
    &[("current", None), ("previous", Some("key"))];

/// The secret attributes of the item `(pk, sk)`, if that kind of item holds any.
pub fn secret_attributes_of(pk: &str, sk: &str) -> Option<&'static SecretAttributes> {
    if sk.starts_with("SUBSCRIPTION#") && pk.starts_with("TENANT#") {
        Some(SUBSCRIPTION_SECRETS)
    } else if (pk.to_owned(), sk.to_owned()) == deployment_keys_key() {
        Some(DEPLOYMENT_KEY_SECRETS)
    } else {
        None
    }
}

/// Every secret string of an item, to seal or open in place.
fn secret_strings<'a>(item: &'a mut Item, attributes: &SecretAttributes) -> Vec<&'a mut String> {
    let mut strings = Vec::new();
    for (name, value) in item.iter_mut() {
        let Some((_, field)) = attributes.iter().find(|(n, _)| n == name) else {
            continue;
        };
        match (value, field) {
            (AttributeValue::S(text), None) => strings.push(text),
            (AttributeValue::L(entries), Some(field)) => {
                for entry in entries {
                    if let AttributeValue::M(map) = entry
                        && let Some(AttributeValue::S(text)) = map.get_mut(*field)
                    {
                        strings.push(text);
                    }
                }
            }
            _ => {}
        }
    }
    strings
}

/// What a sealed value of the item `(pk, sk)` is bound to.
fn item_aad(pk: &str, sk: &str) -> Vec<u8> {
    format!("tidings\n{pk}\n{sk}").into_bytes()
}

/// The `(pk, sk)` of a stored item.
fn item_key(item: &Item) -> Result<(String, String), StoreError> {
    let key = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!("an item without its {name}"))),
    };
    Ok((key("pk")?, key("sk")?))
}

/// What `tidings-local reencrypt-secrets` did, counting items that hold secrets
/// (subscriptions, the deployment's signing keys).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Items that had a secret in the clear and now have none.
    pub sealed: usize,
    /// Items whose secrets were all sealed already.
    pub already_sealed: usize,
    /// Items written meanwhile (by a write that sealed them) and left alone.
    pub changed_meanwhile: usize,
}

fn unavailable<E: std::error::Error>(error: E) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(error).to_string())
}

/// A conditional write's refusal is a [`StoreError::Conflict`]; anything else is unavailability.
fn write_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let conditional = error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException");
    if conditional {
        StoreError::Conflict
    } else {
        unavailable(error)
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn to_item<T: Serialize>(pk: String, sk: String, value: &T) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A page from a query made with `Limit = limit + 1`: at most `limit` items, and whether
/// more follow (one item over, or DynamoDB stopping at its 1 MB read limit).
fn page_items(
    output: aws_sdk_dynamodb::operation::query::QueryOutput,
    limit: usize,
) -> (Vec<Item>, bool) {
    let truncated = output.last_evaluated_key.is_some();
    let mut items = output.items.unwrap_or_default();
    let more = items.len() > limit || (truncated && items.len() == limit);
    items.truncate(limit);
    (items, more)
}

/// [`page_items`], read as `T`.
fn page<T: DeserializeOwned>(
    output: aws_sdk_dynamodb::operation::query::QueryOutput,
    limit: usize,
) -> Result<(Vec<T>, bool), StoreError> {
    let (items, more) = page_items(output, limit);
    let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((items, more))
}

fn subscription_key(tenant: &TenantId, id: &SubscriptionId) -> (String, String) {
    (format!("TENANT#{tenant}"), format!("SUBSCRIPTION#{id}"))
}

fn event_key(tenant: &TenantId, id: &EventId) -> (String, String) {
    (format!("EVENT#{tenant}#{id}"), "EVENT".to_owned())
}

fn delivery_key(tenant: &TenantId, id: &str) -> (String, String) {
    (format!("DELIVERY#{tenant}#{id}"), "DELIVERY".to_owned())
}

/// The index that lists a subscription's deliveries.
pub const BY_SUBSCRIPTION_INDEX: &str = "by_subscription";

fn by_subscription(tenant: &TenantId, subscription: &SubscriptionId) -> String {
    format!("SUBSCRIPTION#{tenant}#{subscription}")
}

fn delivery_item(record: &DeliveryRecord) -> Result<Item, StoreError> {
    let (pk, sk) = delivery_key(&record.tenant, &record.delivery_id);
    let mut item = to_item(pk, sk, record)?;
    item.insert(
        "gsi1pk".into(),
        s(by_subscription(&record.tenant, &record.subscription_id)),
    );
    item.insert("gsi1sk".into(), s(&record.delivery_id));
    Ok(item)
}

fn api_key_key(hash: &ApiKeyHash) -> (String, String) {
    (format!("APIKEY#{}", hash.as_str()), "APIKEY".to_owned())
}

fn api_key_listing_key(tenant: &TenantId, id: &str) -> (String, String) {
    (format!("TENANT#{tenant}"), format!("APIKEY#{id}"))
}

fn event_type_key(tenant: &TenantId, name: &EventType) -> (String, String) {
    (format!("TENANT#{tenant}"), format!("EVENTTYPE#{name}"))
}

/// A transaction refused because one of its conditions failed is a conflict.
fn transaction_error<R: std::fmt::Debug>(
    error: SdkError<TransactWriteItemsError, R>,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = error.as_service_error()
    {
        let conditional = e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"));
        if conditional {
            return StoreError::Conflict;
        }
    }
    unavailable(error)
}

impl DynamoStore {
    /// The stores on `table`, sealing secrets with `cipher`.
    pub fn new(client: Client, table: String, cipher: Arc<SecretCipher>) -> Self {
        Self {
            client,
            table,
            cipher,
        }
    }

    /// `plaintext` sealed for the attribute of the item `(pk, sk)`: envelope encryption under
    /// this process's KMS data key, bound to that item. For any item that holds a secret;
    /// subscriptions' secrets are sealed by the store itself. Fails as
    /// [`StoreError::Unavailable`] while KMS is.
    pub async fn seal_str(
        &self,
        pk: &str,
        sk: &str,
        plaintext: &str,
    ) -> Result<String, StoreError> {
        self.cipher.seal_str(&item_aad(pk, sk), plaintext).await
    }

    /// The plaintext of an attribute of the item `(pk, sk)` that [`DynamoStore::seal_str`]
    /// sealed; a value written before encryption comes back as it is (seal it on its next
    /// write). [`StoreError::Corrupt`] if it was tampered with or moved from another item.
    pub async fn open_str(&self, pk: &str, sk: &str, stored: &str) -> Result<String, StoreError> {
        self.cipher.open_str(&item_aad(pk, sk), stored).await
    }

    /// The stored form of an item: its `attributes` sealed, bound to its `pk` and `sk`.
    /// Every write of an item that holds secrets goes through here.
    async fn seal_item(
        &self,
        mut item: Item,
        attributes: &SecretAttributes,
    ) -> Result<Item, StoreError> {
        let (pk, sk) = item_key(&item)?;
        let aad = item_aad(&pk, &sk);
        for text in secret_strings(&mut item, attributes) {
            *text = self.cipher.seal_str(&aad, text).await?;
        }
        Ok(item)
    }

    /// An item as read, its `attributes` opened (or left as they are, when they were written
    /// before encryption). Every read of an item that holds secrets goes through here.
    async fn open_item(
        &self,
        mut item: Item,
        attributes: &SecretAttributes,
    ) -> Result<Item, StoreError> {
        let (pk, sk) = item_key(&item)?;
        let aad = item_aad(&pk, &sk);
        for text in secret_strings(&mut item, attributes) {
            *text = self.cipher.open_str(&aad, text).await?;
        }
        Ok(item)
    }

    /// The stored form of a subscription: its item, every secret sealed.
    async fn subscription_item(&self, subscription: &Subscription) -> Result<Item, StoreError> {
        let (pk, sk) = subscription_key(&subscription.tenant, &subscription.id);
        self.seal_item(to_item(pk, sk, subscription)?, SUBSCRIPTION_SECRETS)
            .await
    }

    /// A subscription from its stored item, every secret opened.
    async fn subscription_from_item(&self, item: Item) -> Result<Subscription, StoreError> {
        from_item(self.open_item(item, SUBSCRIPTION_SECRETS).await?)
    }

    async fn subscriptions_from_items(
        &self,
        items: Vec<Item>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let mut subscriptions = Vec::with_capacity(items.len());
        for item in items {
            subscriptions.push(self.subscription_from_item(item).await?);
        }
        Ok(subscriptions)
    }

    async fn get_item(&self, key: (String, String)) -> Result<Option<Item>, StoreError> {
        self.get_item_with(key, true).await
    }

    async fn get_item_with(
        &self,
        (pk, sk): (String, String),
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        key: (String, String),
    ) -> Result<Option<T>, StoreError> {
        self.get_item(key).await?.map(from_item).transpose()
    }

    /// Every item of the partition `pk` whose sort key starts with `prefix`, with only the
    /// attributes `projection` names when it is given.
    async fn query_items(
        &self,
        pk: String,
        prefix: &str,
        projection: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        if !projection.is_empty() {
            let names: Vec<String> = (0..projection.len()).map(|i| format!("#p{i}")).collect();
            for (name, attribute) in names.iter().zip(projection) {
                query = query.expression_attribute_names(name, *attribute);
            }
            query = query.projection_expression(names.join(", "));
        }
        query
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    /// Every item of the partition `pk` whose sort key starts with `prefix`.
    async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let items = self.query_items(pk, prefix, &[]).await?;
        items.into_iter().map(from_item).collect()
    }

    /// Seals every secret still stored in the clear (written before encryption) in the
    /// table: a scan of the items that hold secrets (subscriptions, the deployment's signing
    /// keys), then for each one with a value in the clear one update of its secret
    /// attributes, on condition that they are still the ones read (a write meanwhile sealed
    /// them already). Other attributes are left alone. Safe to run again, and while the
    /// service runs.
    pub async fn reencrypt_secrets(&self) -> Result<ReencryptReport, StoreError> {
        let (deployment, signing_keys) = deployment_keys_key();
        let items: Vec<Item> = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "(begins_with(pk, :tenant) AND begins_with(sk, :subscription)) \
                 OR (pk = :deployment AND sk = :signing_keys)",
            )
            .expression_attribute_values(":tenant", s("TENANT#"))
            .expression_attribute_values(":subscription", s("SUBSCRIPTION#"))
            .expression_attribute_values(":deployment", s(deployment))
            .expression_attribute_values(":signing_keys", s(signing_keys))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)?;
        let mut report = ReencryptReport::default();
        for old in items {
            let (pk, sk) = item_key(&old)?;
            let Some(attributes) = secret_attributes_of(&pk, &sk) else {
                continue;
            };
            let aad = item_aad(&pk, &sk);
            let mut new = old.clone();
            let mut plain = 0;
            for text in secret_strings(&mut new, attributes) {
                if !is_sealed(text) {
                    *text = self.cipher.seal_str(&aad, text).await?;
                    plain += 1;
                }
            }
            if plain == 0 {
                report.already_sealed += 1;
                continue;
            }
            // Sealed values that open again, or the item is left alone.
            self.open_item(new.clone(), attributes).await?;
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(&sk));
            let mut sets = Vec::new();
            let mut conditions = Vec::new();
            for (i, (name, _)) in attributes.iter().enumerate() {
                let (Some(before), Some(after)) = (old.get(*name), new.get(*name)) else {
                    continue;
                };
                if before == after {
                    continue;
                }
                sets.push(format!("#a{i} = :new{i}"));
                conditions.push(format!("#a{i} = :old{i}"));
                update = update
                    .expression_attribute_names(format!("#a{i}"), *name)
                    .expression_attribute_values(format!(":new{i}"), after.clone())
                    .expression_attribute_values(format!(":old{i}"), before.clone());
            }
            let outcome = update
                .update_expression(format!("SET {}", sets.join(", ")))
                .condition_expression(conditions.join(" AND "))
                .send()
                .await
                .map_err(write_error);
            match outcome {
                Ok(_) => report.sealed += 1,
                Err(StoreError::Conflict) => report.changed_meanwhile += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Puts an item that must not exist yet.
    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn create_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        self.put_new(self.subscription_item(subscription).await?)
            .await
    }

    async fn get_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        match self.get_item(subscription_key(tenant, id)).await? {
            Some(item) => Ok(Some(self.subscription_from_item(item).await?)),
            None => Ok(None),
        }
    }

    async fn update_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let item = self.subscription_item(subscription).await?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    async fn set_subscription_health(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        failing_since: Option<chrono::DateTime<chrono::Utc>>,
        deactivate: bool,
    ) -> Result<(), StoreError> {
        let (pk, sk) = subscription_key(tenant, id);
        // One attribute or two, never the whole item: an admin's concurrent PATCH is kept,
        // and no secret is read or written (the dispatcher only ever decrypts).
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("attribute_exists(pk)");
        let mut sets = Vec::new();
        if let Some(since) = failing_since {
            sets.push("failing_since = :since");
            update = update.expression_attribute_values(
                ":since",
                s(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
        if deactivate {
            sets.push("active = :off");
            update = update.expression_attribute_values(":off", AttributeValue::Bool(false));
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression = format!("SET {}", sets.join(", "));
        }
        if failing_since.is_none() {
            expression.push_str(" REMOVE failing_since");
        }
        update
            .update_expression(expression.trim())
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        let items = self
            .query_items(format!("TENANT#{tenant}"), "SUBSCRIPTION#", &[])
            .await?;
        self.subscriptions_from_items(items).await
    }

    /// Reads only `id`, `active`, `events` and `filter`: the secrets never leave the table,
    /// so ingest needs no KMS permission.
    async fn list_subscription_routes(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SubscriptionRoute>, StoreError> {
        let items = self
            .query_items(
                format!("TENANT#{tenant}"),
                "SUBSCRIPTION#",
                &["id", "active", "events", "filter"],
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn list_subscriptions_page(
        &self,
        tenant: &TenantId,
        after: Option<&SubscriptionId>,
        limit: usize,
    ) -> Result<(Vec<Subscription>, bool), StoreError> {
        let pk = format!("TENANT#{tenant}");
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s("SUBSCRIPTION#"))
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = after {
            let (pk, sk) = subscription_key(tenant, after);
            query = query
                .exclusive_start_key("pk", s(pk))
                .exclusive_start_key("sk", s(sk));
        }
        let (items, more) = page_items(query.send().await.map_err(unavailable)?, limit);
        Ok((self.subscriptions_from_items(items).await?, more))
    }

    async fn delete_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = subscription_key(tenant, id);
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn insert_event(&self, record: &EventRecord) -> Result<Option<EventRecord>, StoreError> {
        let (pk, sk) = event_key(&record.event.tenant, &record.event.id);
        match self.put_new(to_item(pk.clone(), sk.clone(), record)?).await {
            Ok(()) => Ok(None),
            Err(StoreError::Conflict) => match self.get((pk, sk)).await? {
                Some(existing) => Ok(Some(existing)),
                // Expired between the two calls: extremely unlikely; let the producer retry.
                None => Err(StoreError::Unavailable(
                    "the event record vanished; retry".into(),
                )),
            },
            Err(e) => Err(e),
        }
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<EventRecord>, StoreError> {
        self.get(event_key(tenant, id)).await
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get(delivery_key(tenant, delivery_id)).await
    }

    async fn get_delivery_relaxed(
        &self,
        tenant: &TenantId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get_item_with(delivery_key(tenant, delivery_id), false)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(record)?))
            .condition_expression("attribute_not_exists(pk) OR #status <> :succeeded")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":succeeded", s("succeeded"))
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    async fn reset_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(record)?))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<DeliveryRecord>, bool), StoreError> {
        let partition = by_subscription(tenant, subscription);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_SUBSCRIPTION_INDEX)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(&partition))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(before) = before {
            let (pk, sk) = delivery_key(tenant, before);
            query = query
                .exclusive_start_key("pk", s(pk))
                .exclusive_start_key("sk", s(sk))
                .exclusive_start_key("gsi1pk", s(&partition))
                .exclusive_start_key("gsi1sk", s(before));
        }
        page(query.send().await.map_err(unavailable)?, limit)
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    /// The key by its hash (for authentication) and in its tenant's listing, both or neither.
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let put = |(pk, sk): (String, String)| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(pk, sk, key)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        self.client
            .transact_write_items()
            .transact_items(put(api_key_key(&key.hash))?)
            .transact_items(put(api_key_listing_key(&key.tenant, &key.id))?)
            .send()
            .await
            .map(|_| ())
            .map_err(transaction_error)
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.get(api_key_key(hash)).await
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.query_prefix(format!("TENANT#{tenant}"), "APIKEY#")
            .await
    }

    async fn delete_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let Some(key) = self.get::<ApiKey>(api_key_listing_key(tenant, id)).await? else {
            return Ok(false);
        };
        let delete = |(pk, sk): (String, String)| -> Result<TransactWriteItem, StoreError> {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .build()
                .map_err(unavailable)?;
            Ok(TransactWriteItem::builder().delete(delete).build())
        };
        self.client
            .transact_write_items()
            .transact_items(delete(api_key_key(&key.hash))?)
            .transact_items(delete(api_key_listing_key(tenant, id))?)
            .send()
            .await
            .map_err(transaction_error)?;
        Ok(true)
    }
}

#[async_trait]
impl EventTypeStore for DynamoStore {
    async fn put_event_type(
        &self,
        tenant: &TenantId,
        event_type: &CustomEventType,
    ) -> Result<(), StoreError> {
        let (pk, sk) = event_type_key(tenant, &event_type.name);
        self.put_new(to_item(pk, sk, event_type)?).await
    }

    async fn list_event_types(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<CustomEventType>, StoreError> {
        self.query_prefix(format!("TENANT#{tenant}"), "EVENTTYPE#")
            .await
    }
}

fn settings_key(tenant: &TenantId) -> (String, String) {
    (format!("TENANT#{tenant}"), "SETTINGS".to_owned())
}

/// A rate schedule item outlives its last use by a day, then DynamoDB's TTL removes it.
const RATE_SCHEDULE_TTL_SECS: i64 = 24 * 3600;

#[async_trait]
impl RateSchedules for DynamoStore {
    /// Usually one `UpdateItem` (one write unit): advance the schedule by a step if it is
    /// ahead of `now`, taking its old value as the slot; if it is idle (missing or behind),
    /// restart it at `now`. Both are conditional, so concurrent dispatchers never share a
    /// slot; a lost race tries again.
    async fn reserve_slot(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        now: chrono::DateTime<chrono::Utc>,
        step: std::time::Duration,
    ) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
        let pk = format!("RATE#{tenant}#{subscription}");
        let step_us = i64::try_from(step.as_micros()).unwrap_or(i64::MAX);
        let now_us = now.timestamp_micros();
        let number = |n: i64| AttributeValue::N(n.to_string());
        let expires = number(now.timestamp() + RATE_SCHEDULE_TTL_SECS);
        // Both updates: the schedule's item, its slot attribute, `now` and a renewed expiry.
        let update = || {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s("schedule"))
                .expression_attribute_names("#next", "next_us")
                .expression_attribute_values(":now", number(now_us))
                .expression_attribute_values(":expires", expires.clone())
        };
        for _ in 0..5 {
            let busy = update()
                .update_expression("SET #next = #next + :step, expires_at = :expires")
                .condition_expression("#next > :now")
                .expression_attribute_values(":step", number(step_us))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
                .send()
                .await;
            match busy {
                Ok(output) => {
                    let slot = output
                        .attributes()
                        .and_then(|a| a.get("next_us"))
                        .and_then(|n| n.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .and_then(chrono::DateTime::from_timestamp_micros)
                        .ok_or_else(|| {
                            StoreError::Corrupt("a rate schedule without its slot".into())
                        })?;
                    return Ok(slot);
                }
                Err(e) => match write_error(e) {
                    StoreError::Conflict => {}
                    other => return Err(other),
                },
            }
            let idle = update()
                .update_expression("SET #next = :after, expires_at = :expires")
                .condition_expression("attribute_not_exists(#next) OR #next <= :now")
                .expression_attribute_values(":after", number(now_us.saturating_add(step_us)))
                .send()
                .await;
            match idle {
                Ok(_) => return Ok(now),
                Err(e) => match write_error(e) {
                    // Another dispatcher moved the schedule meanwhile: it is busy now.
                    StoreError::Conflict => {}
                    other => return Err(other),
                },
            }
        }
        Err(StoreError::Unavailable(
            "the rate schedule is contended".into(),
        ))
    }
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn get_tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError> {
        Ok(self.get(settings_key(tenant)).await?.unwrap_or_default())
    }

    async fn put_tenant_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        let (pk, sk) = settings_key(tenant);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(pk, sk, settings)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn deployment_keys_key() -> (String, String) {
    ("DEPLOYMENT".to_owned(), "SIGNING_KEYS".to_owned())
}

#[async_trait]
impl DeploymentKeyStore for DynamoStore {
    /// The private keys are sealed as subscriptions' secrets are ([`DEPLOYMENT_KEY_SECRETS`]).
    async fn get_deployment_keys(&self) -> Result<Option<DeploymentKeys>, StoreError> {
        match self.get_item(deployment_keys_key()).await? {
            Some(item) => Ok(Some(from_item(
                self.open_item(item, DEPLOYMENT_KEY_SECRETS).await?,
            )?)),
            None => Ok(None),
        }
    }

    async fn put_deployment_keys(
        &self,
        keys: &DeploymentKeys,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = deployment_keys_key();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(
                self.seal_item(to_item(pk, sk, keys)?, DEPLOYMENT_KEY_SECRETS)
                    .await?,
            ));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
        };
        put.send().await.map(|_| ()).map_err(write_error)
    }
}
