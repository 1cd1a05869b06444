//! Dated context: stored whole, replaced by day, read back in the order it becomes visible.

use chrono::NaiveDate;
use serde_json::json;

use crate::*;

use super::samples::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, d).expect("day")
}

/// Items round-trip every column (text, numbers, Chinese, null); a later import of a day
/// replaces that day's item; a read by time returns exactly the visible ones, in order.
pub async fn context_items_round_trip_and_read_by_visibility(store: &dyn Store) {
    // 2025-01-02T09:00:00Z, before the 2nd ends.
    let published = chrono::DateTime::from_timestamp(1_735_808_400, 0).expect("time");
    let items = vec![
        ContextItem::new(
            "GOOG",
            day(1),
            None,
            json!({"trend": "up", "score": 0.5}),
            at(1),
        ),
        ContextItem::new(
            "GOOG",
            day(2),
            Some(published),
            json!({"趋势": "下跌", "score": -1.25, "note": null}),
            at(1),
        ),
        ContextItem::new("GOOG", day(3), None, json!({"trend": "flat"}), at(1)),
        ContextItem::new("MSFT", day(1), None, json!({"trend": "down"}), at(1)),
    ];
    assert_eq!(store.import_context(&items).await.expect("import"), 4);
    let all = store.context_items("GOOG", None).await.expect("all");
    assert_eq!(all, items[..3].to_vec());
    // The columns keep the file's order on every backend: a prompt shows them so.
    let names: Vec<&String> = all[1].data.as_object().expect("object").keys().collect();
    assert_eq!(names, ["趋势", "score", "note"]);
    // At the 2nd's midnight only the 1st is visible; by 09:00 the news of the 2nd is too.
    let midnight = NaiveDate::and_hms_opt(&day(2), 0, 0, 0)
        .expect("time")
        .and_utc();
    let seen = store
        .context_items("GOOG", Some(midnight))
        .await
        .expect("seen");
    assert_eq!(seen, items[..1].to_vec());
    let seen = store
        .context_items("GOOG", Some(published))
        .await
        .expect("seen");
    assert_eq!(seen, items[..2].to_vec());
    // A second import of the 3rd replaces it.
    let replaced = ContextItem::new("GOOG", day(3), None, json!({"trend": "up"}), at(2));
    assert_eq!(
        store
            .import_context(std::slice::from_ref(&replaced))
            .await
            .expect("again"),
        1
    );
    let all = store.context_items("GOOG", None).await.expect("all");
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], replaced);
    assert!(
        store
            .context_items("AAPL", None)
            .await
            .expect("none")
            .is_empty()
    );
}
