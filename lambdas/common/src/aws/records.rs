//! The state table's side of the record of the routes this tool created (see
//! [`crate::plan::record`]): one Query reads a side's record of a peering, and one transaction
//! replaces a table's record whole.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use tracing::{info, instrument};

use crate::error::{Error, Result};
use crate::plan::record::{self, RecordItem, Records};

const PK: &str = "pk";
const SK: &str = "sk";
const ROUTE_TABLE_ID: &str = "routeTableId";
const CIDRS: &str = "cidrs";

/// The state table, as the functions reach it.
#[derive(Clone)]
pub struct RecordStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// One side's record of one peering: where it is kept.
#[derive(Debug, Clone, Copy)]
pub struct RecordScope<'a> {
    pub region: &'a str,
    pub peering_id: &'a str,
}

impl RecordScope<'_> {
    fn partition(&self) -> String {
        record::partition(self.region, self.peering_id)
    }
}

impl RecordStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every table's record of `scope`, read consistently (a record written by the pass before
    /// must be seen), page by page.
    #[instrument(skip_all, fields(region = scope.region, peering_id = scope.peering_id))]
    pub async fn read(&self, scope: RecordScope<'_>) -> Result<Records> {
        const ACTION: &str = "Query";
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(scope.partition()))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| Error::from_state_table(ACTION, &self.table, err))?;
            items.extend(page.items().iter().filter_map(item_from_dynamodb));
        }
        let records = record::from_items(items);
        info!(
            action = ACTION,
            tables = records.len(),
            routes = records.values().map(|r| r.cidrs.len()).sum::<usize>(),
            "read the record"
        );
        Ok(records)
    }

    /// Replaces `route_table_id`'s record of `scope` with `items` in one transaction: the new
    /// items put, and the items of `old_sort_keys` it no longer has deleted, so a reader never
    /// sees half a record.
    #[instrument(skip_all, fields(region = scope.region, peering_id = scope.peering_id, route_table_id))]
    pub async fn replace(
        &self,
        scope: RecordScope<'_>,
        route_table_id: &str,
        items: &[RecordItem],
        old_sort_keys: &[String],
    ) -> Result<()> {
        const ACTION: &str = "TransactWriteItems";
        let partition = scope.partition();
        let puts = items.iter().map(|item| put(&self.table, &partition, item));
        let deletes = old_sort_keys
            .iter()
            .filter(|key| !items.iter().any(|item| &item.sort_key == *key))
            .map(|key| delete(&self.table, &partition, key));
        let actions: Vec<TransactWriteItem> = puts.chain(deletes).collect::<Result<_>>()?;
        if actions.is_empty() {
            return Ok(());
        }
        let count = actions.len();
        self.client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
            .map_err(|err| Error::from_state_table(ACTION, &self.table, err))?;
        info!(
            action = ACTION,
            route_table_id,
            items = items.len(),
            writes = count,
            "recorded"
        );
        Ok(())
    }
}

fn key(partition: &str, sort_key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(partition.to_owned())),
        (SK.to_owned(), AttributeValue::S(sort_key.to_owned())),
    ])
}

fn put(table: &str, partition: &str, item: &RecordItem) -> Result<TransactWriteItem> {
    let mut attributes = key(partition, &item.sort_key);
    attributes.insert(
        ROUTE_TABLE_ID.to_owned(),
        AttributeValue::S(item.route_table_id.clone()),
    );
    attributes.insert(CIDRS.to_owned(), AttributeValue::S(item.cidrs.clone()));
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(attributes))
        .build()
        .map_err(|err| built_wrong("Put", table, &err))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, partition: &str, sort_key: &str) -> Result<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key(partition, sort_key)))
        .build()
        .map_err(|err| built_wrong("Delete", table, &err))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A request the SDK's builder refused: a bug here, reported as the state table's error.
fn built_wrong(what: &str, table: &str, err: &dyn std::error::Error) -> Error {
    Error::StateTable {
        action: "TransactWriteItems",
        table: table.to_owned(),
        code: "BuildError".to_owned(),
        message: format!("{what}: {err}"),
    }
}

/// An item of the record; anything else in the partition (not written by this tool) is skipped.
fn item_from_dynamodb(item: &HashMap<String, AttributeValue>) -> Option<RecordItem> {
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
    Some(RecordItem {
        sort_key: text(SK)?,
        route_table_id: text(ROUTE_TABLE_ID)?,
        cidrs: text(CIDRS)?,
    })
}
