//! Accounts: decimals survive every column, and an account in use cannot be deleted.

use aibt_core::{Money, TaskStatus};

use crate::*;

use super::samples::*;

/// Decimal extremes survive in every kind of column.
pub async fn decimal_extremes_round_trip(store: &dyn Store) {
    for (i, text) in [
        "0.00000001",
        "-0.00000001",
        "12345678901234567890.12345678",
        "-12345678901234567890.12345678",
        "99999999999999999999.99999999",
        "0",
    ]
    .iter()
    .enumerate()
    {
        let mut account = sample_account(&format!("extreme-{i}"));
        account.initial_balance = money(text);
        account.stock_quantity = quantity(text);
        store.insert_account(&account).await.expect("insert");
        let back = store.get_account(&account.account_id).await.expect("get");
        assert_eq!(back.initial_balance.to_string(), money(text).to_string());
        assert_eq!(back.stock_quantity, quantity(text));
    }
}

/// Any decimal with up to 8 places survives a write and a read (a property test; run with a
/// runtime because the store is async).
pub fn any_eight_place_decimal_survives(runtime: &tokio::runtime::Runtime, store: &dyn Store) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let mut runner = TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU32::new(0);
    let strategy = (
        -79_228_162_514_264_337_593_543_950_335i128..=79_228_162_514_264_337_593_543_950_335i128,
        0u32..=8,
    );
    runner
        .run(&strategy, |(mantissa, scale)| {
            let value = aibt_core::Decimal::from_i128_with_scale(mantissa, scale);
            let Ok(amount) = Money::new(value) else {
                return Ok(()); // Outside the range: refused before any write.
            };
            prop_assert_eq!(amount.get(), value);
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut account = sample_account(&format!("prop-{n}"));
            account.total_value = amount;
            account.total_fees = amount.abs();
            let back = runtime.block_on(async {
                store.insert_account(&account).await.expect("insert");
                store.get_account(&account.account_id).await.expect("get")
            });
            prop_assert_eq!(back.total_value, amount);
            prop_assert_eq!(back.total_fees, amount.abs());
            Ok(())
        })
        .expect("decimals survive the database");
}

/// Accounts and AI configs in use cannot be deleted; deleting a task removes its records.
pub async fn deletes_keep_references_whole(store: &dyn Store) {
    store
        .insert_account(&sample_account("acct-del"))
        .await
        .expect("insert");
    let task = sample_task("task-del", "acct-del", TaskStatus::Completed);
    store
        .create_task(&task, &sample_run_account("task-del"))
        .await
        .expect("create");
    let err = store.delete_account("acct-del").await.expect_err("in use");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    store
        .delete_task("task-del", &[])
        .await
        .expect("delete task");
    assert!(matches!(
        store.get_task_account("task-del").await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete_account("acct-del")
        .await
        .expect("delete account");
    assert!(matches!(
        store.get_account("acct-del").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_task("task-del", &[]).await,
        Err(StoreError::NotFound { .. })
    ));
}
