//! Dated context: the items a prompt may show once they are visible (`aibt_core::context`).

use serde_json::{Map, Value};

use crate::error::{Result, StoreError};
use crate::rows::ContextItem;
use crate::sql::columns::{BindRow, ReadRow, TableRow, WriteRow};
use crate::sql::table::Table;

pub static CONTEXT: Table = Table::new(
    "context_items",
    "context item",
    &[
        "item_id",
        "stock_symbol",
        "item_date",
        "published_at",
        "visible_at",
        "data",
        "created_at",
    ],
);

/// An item's columns are stored as `[[name, value], …]`: PostgreSQL's JSONB orders an object's
/// keys its own way, and the columns' order is the file's, which a prompt shows.
fn pairs_of_object(data: &Value) -> Value {
    match data {
        Value::Object(fields) => Value::Array(
            fields
                .iter()
                .map(|(name, value)| Value::Array(vec![Value::String(name.clone()), value.clone()]))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn object_of_pairs(stored: Value) -> Value {
    match stored {
        Value::Array(pairs) => Value::Object(
            pairs
                .into_iter()
                .filter_map(|pair| match pair {
                    Value::Array(mut two) if two.len() == 2 => {
                        let value = two.pop()?;
                        match two.pop()? {
                            Value::String(name) => Some((name, value)),
                            _ => None,
                        }
                    }
                    _ => None,
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

impl TableRow for ContextItem {
    fn table() -> &'static Table {
        &CONTEXT
    }

    fn read(r: &impl ReadRow) -> Result<ContextItem> {
        let item_id = r.text(0)?;
        let item_date = r.opt_date(2)?.ok_or_else(|| StoreError::Corrupt {
            table: "context_items",
            column: "item_date",
            value: item_id.clone(),
            reason: "no date".into(),
        })?;
        Ok(ContextItem {
            item_id,
            stock_symbol: r.text(1)?,
            item_date,
            published_at: r.opt_time(3)?,
            visible_at: r.time(4)?,
            data: object_of_pairs(r.json(5)?),
            created_at: r.time(6)?,
        })
    }
}

impl WriteRow for ContextItem {
    fn key(&self) -> &str {
        &self.item_id
    }

    fn bind(&self, b: &mut impl BindRow) -> Result<()> {
        b.text(&self.item_id);
        b.text(&self.stock_symbol);
        b.opt_date(Some(self.item_date));
        b.opt_time(self.published_at);
        b.time(self.visible_at);
        b.json(&pairs_of_object(&self.data));
        b.time(self.created_at);
        Ok(())
    }
}
