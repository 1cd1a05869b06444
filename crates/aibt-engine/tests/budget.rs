//! Budgets: a model task pauses before a call would pass its budget, with the reason, and
//! resumed with a larger one ends exactly as a run without a budget; a budget that cannot be
//! kept is refused when the task is created.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aibt_ai::llm::CacheMode;
use aibt_core::broker::AccountSettings;
use aibt_core::{MarketType, Money, TaskStatus};
use aibt_engine::ai_config::AiConfigSpec;
use aibt_engine::budget::{Budget, Prices, Spend};
use aibt_engine::task::resume_with_budget;
use aibt_engine::{
    EngineError, RunConfig, RunOutcome, StrategyRef, TaskOptions, TaskSpec, Transition,
    claim_and_run, create_task, transition,
};
use aibt_store::{AiConfig, SeriesKey, Store};
use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of};
use common::ai::*;
use common::{settings, sqlite};

fn options(prefetch: u32, budget: Option<Budget>) -> TaskOptions {
    TaskOptions {
        // Every decision is a call: a cached answer would cost nothing.
        cache: CacheMode::Off,
        prefetch,
        budget,
        ..TaskOptions::default()
    }
}

/// Runs a created (or resumed) task until it stops; the outcome and the task as stored.
async fn run_until_stopped(store: &Arc<dyn Store>, task_id: &str) -> RunOutcome {
    let task = store.get_task(task_id).await.expect("task");
    if task.status == TaskStatus::Pending {
        transition(store.as_ref(), task_id, Transition::Start)
            .await
            .expect("start");
    }
    claim_and_run(
        store,
        &RunConfig::new("budget-test"),
        aibt_store::ClaimFilter::task(task_id),
        &mut |_| {},
    )
    .await
    .expect("run")
    .expect("claimable")
}

/// The tokens a task's calls took, as its decisions record them.
fn spent(run: &Finished) -> Spend {
    run.decisions
        .iter()
        .filter(|d| d.llm_calls > 0)
        .fold(Spend::default(), |sum, d| {
            sum.plus(Spend {
                prompt_tokens: d.prompt_tokens.unwrap_or(0) as u64,
                completion_tokens: d.completion_tokens.unwrap_or(0) as u64,
            })
        })
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    series: SeriesKey,
    config: AiConfig,
    settings: AccountSettings,
    fake: FakeLlm,
}

async fn setup(prices: bool) -> Setup {
    let (dir, store) = sqlite().await;
    let series = goog(store.as_ref()).await;
    let fake = FakeLlm::start(|_, body| Reply::answer(hashed_decision(&prompt_of(body)))).await;
    let mut spec = config_spec(&fake.base_url());
    // Each call reserves max_tokens for its answer: a small limit, so that half a run's cost
    // holds several calls.
    spec.max_tokens = Some(400);
    if prices {
        spec = AiConfigSpec {
            price_input_per_million: Some(Money::parse("0.5").expect("price")),
            price_output_per_million: Some(Money::parse("1.5").expect("price")),
            reasoning_effort: None,
            decision_mode: None,
            ..spec
        };
    }
    let config = store_config(store.as_ref(), spec).await;
    Setup {
        _dir: dir,
        store,
        series,
        config,
        settings: settings(MarketType::Us, "10000", "0.001"),
        fake,
    }
}

impl Setup {
    fn task(&self, options: TaskOptions) -> AiTask<'_> {
        AiTask {
            store: &self.store,
            series: &self.series,
            settings: &self.settings,
            template: MARKET_TEMPLATE,
            config: &self.config,
            options,
            period: period(),
            interval: 1,
        }
    }
}

/// Stops at `budget`, then resumes with `raised`: the end is the unbudgeted run's.
async fn stops_at_its_budget_and_resumes_to_the_same_end(
    setup: &Setup,
    prefetch: u32,
    budget: impl Fn(&Finished) -> (Budget, Budget),
) {
    let free = setup.task(options(prefetch, None)).run().await;
    assert_eq!(free.task.status, TaskStatus::Completed);
    let (budget, raised) = budget(&free);

    let task = setup
        .task(options(prefetch, Some(budget.clone())))
        .create()
        .await;
    let calls_before = setup.fake.calls();
    let outcome = run_until_stopped(&setup.store, &task.task_id).await;
    assert!(
        matches!(
            outcome,
            RunOutcome::Stopped {
                status: TaskStatus::Paused,
                ..
            }
        ),
        "{outcome:?}"
    );
    let paused = finished(setup.store.as_ref(), &task.task_id).await;
    let reason = paused.task.error_message.clone().expect("the reason");
    assert!(reason.starts_with("budget of "), "{reason}");
    let decided = paused.decisions.len();
    assert!(
        decided > 2 && decided < free.decisions.len() - 2,
        "stopped after {decided} of {} decisions",
        free.decisions.len()
    );
    // What it spent stays within the budget, and the refused call was never made: with
    // prefetch, calls asked ahead may have been made and their answers dropped, but only
    // within the budget too.
    let spent = spent(&paused);
    let prices = Prices::of(&setup.config);
    assert_eq!(budget.exceeded_by(prices, spent, Spend::default()), None);
    if prefetch <= 1 {
        assert_eq!(setup.fake.calls() - calls_before, decided);
    }
    // Resuming without a larger budget stops again at once, with nothing more asked.
    transition(setup.store.as_ref(), &task.task_id, Transition::Resume)
        .await
        .expect("resume");
    run_until_stopped(&setup.store, &task.task_id).await;
    let again = finished(setup.store.as_ref(), &task.task_id).await;
    assert_eq!(again.task.status, TaskStatus::Paused);
    assert_eq!(again.decisions.len(), decided);

    resume_with_budget(setup.store.as_ref(), &task.task_id, raised)
        .await
        .expect("resume with a larger budget");
    let outcome = run_until_stopped(&setup.store, &task.task_id).await;
    assert!(matches!(outcome, RunOutcome::Finished(_)), "{outcome:?}");
    let done = finished(setup.store.as_ref(), &task.task_id).await;
    assert_eq!(done.task.status, TaskStatus::Completed);
    assert_eq!(done.task.error_message, None);
    assert_eq!(done.decision_facts(), free.decision_facts());
    assert_eq!(done.trade_facts(), free.trade_facts());
    assert_eq!(done.equity_curve(), free.equity_curve());
    assert_eq!(done.money_stats(), free.money_stats());
}

fn half_the_tokens(free: &Finished) -> (Budget, Budget) {
    let total = spent(free).tokens();
    let budget = |tokens| Budget {
        money: None,
        tokens: Some(tokens),
    };
    (budget(total / 2), budget(total * 2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_pauses_the_task_and_a_larger_one_finishes_it_exactly() {
    let setup = setup(false).await;
    stops_at_its_budget_and_resumes_to_the_same_end(&setup, 1, half_the_tokens).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_holds_with_decisions_asked_ahead() {
    let setup = setup(false).await;
    stops_at_its_budget_and_resumes_to_the_same_end(&setup, 4, half_the_tokens).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_money_budget_counts_by_the_prices() {
    let setup = setup(true).await;
    stops_at_its_budget_and_resumes_to_the_same_end(&setup, 1, |free| {
        let prices = Prices::of(&setup.config).expect("prices");
        let cost = prices.cost(spent(free));
        let money = |m: aibt_core::Decimal| Budget {
            money: Some(Money::new(m.round_dp(8)).expect("money")),
            tokens: None,
        };
        (
            money(cost / aibt_core::Decimal::TWO),
            money(cost * aibt_core::Decimal::TWO),
        )
    })
    .await;
}

#[tokio::test]
async fn a_budget_that_cannot_be_kept_is_refused_when_the_task_is_created() {
    let setup = setup(false).await;
    let in_money = Budget {
        money: Some(Money::parse("1").expect("money")),
        tokens: None,
    };
    let template =
        aibt_engine::templates::template_for_content(setup.store.as_ref(), MARKET_TEMPLATE, None)
            .await
            .expect("template");
    let account_id = aibt_store::new_id();
    setup
        .store
        .insert_account(&aibt_engine::accounts::new_account(
            &account_id,
            "GOOG",
            &settings(MarketType::Us, "10000", "0.001"),
            false,
        ))
        .await
        .expect("account");
    let spec = |strategy, budget| TaskSpec {
        account_id: account_id.clone(),
        symbol: "GOOG".into(),
        market_type: MarketType::Us,
        granularity: aibt_core::TimeGranularity::Daily,
        start: Some(period().0),
        end: Some(period().1),
        decision_interval: 1,
        strategy,
        options: options(1, Some(budget)),
    };
    let model = StrategyRef::Template {
        prompt_id: template.prompt_id.clone(),
        ai_config_id: setup.config.config_id.clone(),
    };
    let refused = |error: EngineError| match error {
        EngineError::Invalid { field, reason } => (field, reason),
        other => panic!("{other}"),
    };
    // Money needs the AI config's prices to count by.
    let (field, reason) = refused(
        create_task(setup.store.as_ref(), spec(model.clone(), in_money.clone()))
            .await
            .expect_err("no prices"),
    );
    assert_eq!(field, "options.budget.money");
    assert!(reason.contains("no token prices"), "{reason}");
    // A rule calls no model.
    let rule = StrategyRef::builtin("buy-and-hold", Default::default());
    let tokens = Budget {
        money: None,
        tokens: Some(1000),
    };
    let (field, _) = refused(
        create_task(setup.store.as_ref(), spec(rule, tokens.clone()))
            .await
            .expect_err("a rule"),
    );
    assert_eq!(field, "options.budget");
    // Nor is a resume with such a budget taken: the task stays as it was.
    let task = create_task(setup.store.as_ref(), spec(model, tokens.clone()))
        .await
        .expect("a token budget");
    transition(setup.store.as_ref(), &task.task_id, Transition::Start)
        .await
        .expect("start");
    transition(setup.store.as_ref(), &task.task_id, Transition::Pause)
        .await
        .expect("pause");
    let (field, _) = refused(
        resume_with_budget(setup.store.as_ref(), &task.task_id, in_money)
            .await
            .expect_err("no prices"),
    );
    assert_eq!(field, "budget.money");
    let stored = setup.store.get_task(&task.task_id).await.expect("task");
    assert_eq!(stored.status, TaskStatus::Paused);
    assert_eq!(stored.options["budget"]["tokens"], 1000);
}
