//! Snapshots read back exactly as they were written, whatever their values: SQLite stores them
//! compactly (integer mantissas, a run's repeated columns once, lot lists by reference), so
//! every column of every row is checked against what was committed.

use aibt_core::{Lot, MarketType, Money, Percent, PositionSide, Quantity};

use crate::*;

use super::samples::*;

/// The largest mantissa of an amount or a quantity (20 integer digits, 8 places).
const MAX_MANTISSA: i128 = 10i128.pow(28) - 1;
/// SQLite keeps mantissas of up to 18 digits as integers and the rest as text.
const INTEGER_BOUND: i128 = 10i128.pow(18);

/// Random snapshots, committed as a running task's batches, read back through paging equal to
/// what was committed, column for column (a property test; run with a runtime because the
/// store is async). Each case is one batch of a few bars that share some values, as a run's
/// bars do: the same lot list on consecutive bars, the same account and symbol.
pub fn any_snapshot_reads_back_as_written(runtime: &tokio::runtime::Runtime, store: &dyn Store) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let task_id = "task-snap-prop";
    runtime.block_on(running_task(store, task_id, "w"));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let next_bar = std::sync::atomic::AtomicU32::new(0);
    let committed = std::sync::Mutex::new(Vec::<AccountSnapshot>::new());
    // Small values, values either side of the integer bound, and the whole range.
    let mantissa = prop_oneof![
        -1_000_000_000i128..=1_000_000_000,
        (INTEGER_BOUND - 3)..=(INTEGER_BOUND + 3),
        (-INTEGER_BOUND - 3)..=(-INTEGER_BOUND + 3),
        -MAX_MANTISSA..=MAX_MANTISSA,
    ];
    let values = proptest::collection::vec(
        (
            proptest::array::uniform14(mantissa),
            -999_999_999_999_999i128..=999_999_999_999_999,
            any::<bool>(),
            0usize..3,
            0usize..2,
        ),
        1..6,
    );
    runner
        .run(&values, |rows| {
            let first = next_bar.fetch_add(rows.len() as u32, std::sync::atomic::Ordering::SeqCst);
            let snapshots: Vec<AccountSnapshot> = rows
                .iter()
                .enumerate()
                .map(|(i, (mantissas, percent, short, long_lots, short_lots))| {
                    let bar = first + i as u32;
                    let side = Side {
                        short: *short,
                        long_lots: *long_lots,
                        short_lots: *short_lots,
                    };
                    snapshot(task_id, bar, mantissas, *percent, &side)
                })
                .collect();
            let mut batch = batch(task_id, "w", 0..0);
            batch.snapshots = snapshots.clone();
            runtime.block_on(store.commit_steps(batch)).expect("commit");
            committed.lock().expect("lock").extend(snapshots);
            Ok(())
        })
        .expect("snapshots survive the database");

    let mut back = Vec::new();
    let mut cursor = None;
    loop {
        let page = runtime
            .block_on(store.list_snapshots(
                task_id,
                &RecordQuery {
                    limit: 37,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            ))
            .expect("page");
        back.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let committed = committed.into_inner().expect("lock");
    assert!(committed.len() > 64, "only {} snapshots", committed.len());
    assert_eq!(back.len(), committed.len());
    for (read, written) in back.iter().zip(&committed) {
        assert_eq!(read, written);
    }
}

/// Which side a generated snapshot holds, and how many lots.
struct Side {
    short: bool,
    long_lots: usize,
    short_lots: usize,
}

/// A snapshot whose amounts and quantities have the mantissas `m` and whose percentage has
/// `percent`. Lot lists repeat across bars (every bar of a batch with the same count holds
/// the same list), as a run's do between trades.
fn snapshot(
    task_id: &str,
    bar: u32,
    m: &[i128; 14],
    percent: i128,
    side: &Side,
) -> AccountSnapshot {
    let money = |i: usize| Money::new_mantissa(m[i]).expect("amount in range");
    let quantity = |i: usize| Quantity::new_mantissa(m[i]).expect("quantity in range");
    let lots = |count: usize, kind: &str| -> Vec<Lot> {
        (0..count)
            .map(|k| Lot {
                trade_id: format!("{task_id}-t{kind}{k}"),
                quantity: quantity(13).abs(),
                price: money(2).abs(),
                time: at(50 + k as i64),
                cost: money(3),
                fees: money(12).abs(),
                margin: money(7).abs(),
                bar: k as u64,
            })
            .collect()
    };
    AccountSnapshot {
        snapshot_id: format!("{task_id}-s{bar:09}"),
        task_id: Some(task_id.to_string()),
        account_id: sample_run_account(task_id).account_id,
        balance: money(0),
        stock_quantity: quantity(1),
        stock_price: money(2).abs(),
        stock_market_value: money(3),
        total_value: money(4),
        profit_loss: money(5),
        profit_loss_percent: Percent::new_mantissa(percent).expect("percentage in range"),
        timestamp: at(1_000 + i64::from(bar) * 60),
        margin_used: money(7).abs(),
        market_type: if side.short {
            MarketType::Coin
        } else {
            MarketType::Us
        },
        initial_balance: money(8).abs(),
        stock_symbol: "SYM".into(),
        current_balance: money(9),
        position_side: if side.short {
            PositionSide::Short
        } else {
            PositionSide::Long
        },
        short_avg_price: money(10).abs(),
        short_total_cost: money(11).abs(),
        short_positions: lots(side.short_lots, "s"),
        long_positions: lots(side.long_lots, "l"),
        available_balance: money(12),
        total_fees: money(13).abs(),
    }
}

/// A batch of many rows (which PostgreSQL writes by COPY) with an id already stored is refused
/// as a whole, as a conflict naming that id, and stores nothing.
pub async fn a_large_batch_with_a_taken_id_is_a_conflict(store: &dyn Store) {
    let task_id = "task-dup-large";
    running_task(store, task_id, "w").await;
    store
        .commit_steps(batch(task_id, "w", 0..100))
        .await
        .expect("first");
    let err = store
        .commit_steps(batch(task_id, "w", 99..300))
        .await
        .expect_err("a taken id");
    let StoreError::Conflict(message) = &err else {
        panic!("not a conflict: {err}");
    };
    assert!(message.contains(&format!("{task_id}-")), "{message}");
    let page = store
        .list_snapshots(
            task_id,
            &RecordQuery {
                limit: 1000,
                ..RecordQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(page.items.len(), 100);
    let task = store.get_task(task_id).await.expect("task");
    assert_eq!(task.processed_items, 100);
}
