//! The decision cache.

use serde_json::json;

use crate::*;

use super::samples::*;

/// Answers are cached under their key; a second answer for the same key keeps the first.
pub async fn cached_answers_round_trip(store: &dyn Store) {
    assert!(store.get_cached_answer("k1").await.expect("get").is_none());
    let answer = CachedAnswer {
        cache_key: "k1".into(),
        base_url: "http://127.0.0.1:8080/v1".into(),
        model: "m".into(),
        response: json!({"content": "{\"action\":\"BUY\"}", "usage": {"prompt_tokens": 10}}),
        created_at: at(5),
    };
    store.put_cached_answer(&answer).await.expect("put");
    store
        .put_cached_answer(&CachedAnswer {
            response: json!({"content": "other"}),
            ..answer.clone()
        })
        .await
        .expect("put again");
    assert_eq!(
        store.get_cached_answer("k1").await.expect("get"),
        Some(answer)
    );
}

/// An AI config's call slots: each claimed by one holder until released or its lease ends;
/// none beyond the limit; another config's slots apart.
pub async fn call_slots_hold_the_limit(store: &dyn Store) {
    let (now, until) = (at(100), at(160));
    let mut held = Vec::new();
    for holder in ["a", "b", "c"] {
        let slot = store
            .claim_call_slot("cfg", 3, holder, now, until)
            .await
            .expect("claim");
        held.push(slot.expect("a free slot"));
    }
    held.sort_unstable();
    assert_eq!(held, [0, 1, 2]);
    assert_eq!(
        store
            .claim_call_slot("cfg", 3, "d", now, until)
            .await
            .expect("claim"),
        None,
        "a fourth call while three are in flight"
    );
    assert_eq!(
        store
            .claim_call_slot("other", 3, "d", now, until)
            .await
            .expect("claim"),
        Some(0),
        "another config's slots are its own"
    );
    // A release by someone who does not hold the slot changes nothing; the holder's frees it.
    store
        .release_call_slot("cfg", 1, "d")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_call_slot("cfg", 3, "e", now, until)
            .await
            .expect("claim"),
        None
    );
    store
        .release_call_slot("cfg", 1, "b")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_call_slot("cfg", 3, "e", now, until)
            .await
            .expect("claim"),
        Some(1)
    );
    // A holder that died: its slots are taken once their leases end, not before.
    assert_eq!(
        store
            .claim_call_slot("cfg", 3, "f", at(159), at(200))
            .await
            .expect("claim"),
        None
    );
    assert_eq!(
        store
            .claim_call_slot("cfg", 3, "f", at(161), at(200))
            .await
            .expect("claim"),
        Some(0)
    );
    // The expired holder's late release does not free the slot its successor holds.
    store
        .release_call_slot("cfg", 0, "a")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_call_slot("cfg", 1, "g", at(162), at(200))
            .await
            .expect("claim"),
        None
    );
}
