//! The stores on one DynamoDB table (`pk`, `sk`, TTL on `expires_at`).
//!
//! | item          | pk                                 | sk                    |
//! |---------------|------------------------------------|-----------------------|
//! | subscription  | `TENANT#{tenant}`                  | `SUBSCRIPTION#{id}`   |
//! | event (dedup) | `EVENT#{tenant}#{event id}`        | `EVENT`               |
//! | delivery      | `DELIVERIES#{tenant}#{subscription}` | `DELIVERY#{id}`     |
//! | API key       | `APIKEY#{sha256 of the key}`       | `APIKEY`              |
//!
//! Events and deliveries get a partition each, so a busy tenant spreads across partitions;
//! a subscription's deliveries share one, so they list in id (time) order with one query.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
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

fn subscription_key(tenant: &TenantId, id: &SubscriptionId) -> (String, String) {
    (format!("TENANT#{tenant}"), format!("SUBSCRIPTION#{id}"))
}

fn event_key(tenant: &TenantId, id: &EventId) -> (String, String) {
    (format!("EVENT#{tenant}#{id}"), "EVENT".to_owned())
}

fn delivery_key(tenant: &TenantId, subscription: &SubscriptionId, id: &str) -> (String, String) {
    (
        format!("DELIVERIES#{tenant}#{subscription}"),
        format!("DELIVERY#{id}"),
    )
}

fn api_key_key(hash: &ApiKeyHash) -> (String, String) {
    (format!("APIKEY#{}", hash.as_str()), "APIKEY".to_owned())
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        (pk, sk): (String, String),
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(from_item).transpose()
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
        let (pk, sk) = subscription_key(&subscription.tenant, &subscription.id);
        self.put_new(to_item(pk, sk, subscription)?).await
    }

    async fn get_subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        self.get(subscription_key(tenant, id)).await
    }

    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(format!("TENANT#{tenant}")))
            .expression_attribute_values(":prefix", s("SUBSCRIPTION#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)?;
        items.into_iter().map(from_item).collect()
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

    async fn mark_event_accepted(&self, tenant: &TenantId, id: &EventId) -> Result<(), StoreError> {
        let (pk, sk) = event_key(tenant, id);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #state = :accepted")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":accepted", s("accepted"))
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        delivery_id: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get(delivery_key(tenant, subscription, delivery_id))
            .await
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let (pk, sk) = delivery_key(&record.tenant, &record.subscription_id, &record.delivery_id);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(pk, sk, record)?))
            .condition_expression("attribute_not_exists(pk) OR #status <> :succeeded")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":succeeded", s("succeeded"))
            .send()
            .await
            .map(|_| ())
            .map_err(write_error)
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn put_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let (pk, sk) = api_key_key(&key.hash);
        self.put_new(to_item(pk, sk, key)?).await
    }

    async fn find_api_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.get(api_key_key(hash)).await
    }
}
