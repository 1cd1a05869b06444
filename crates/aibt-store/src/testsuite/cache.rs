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
