//! The AI path of the command line, driven as a user drives it: templates checked and
//! rendered, AI configs stored and tested, backtests against a fake OpenAI-compatible server,
//! the decision cache and replays.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aibt_testkit::{FakeLlm, Reply, hashed_decision, prompt_of};
use common::Env;

const TEMPLATE: &str = "{{ symbol }} on {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\n\
Position {{ position.side }} {{ position.quantity }}, cash {{ cash }}.\n\
Decide BUY, SELL or HOLD.\n";

/// A fake server on its own runtime, answering each prompt with its hashed decision.
fn fake() -> (tokio::runtime::Runtime, FakeLlm) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeLlm::start(|_, body| Reply::Answer {
        content: hashed_decision(&prompt_of(body)),
        finish_reason: "stop",
        delay: Duration::ZERO,
    }));
    (runtime, fake)
}

fn backtest_args<'a>(template: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "backtest",
        "--symbol",
        "GOOG",
        "--start",
        "2012-03-01",
        "--end",
        "2012-03-30",
        "--template",
        template,
        "--base-url",
        url,
        "--model",
        "fake-model",
        "--format",
        "json",
    ]
}

#[test]
fn a_template_is_checked_with_the_line_of_its_mistake() {
    let env = Env::sqlite();
    let good = env.write("good.j2", TEMPLATE);
    let run = env
        .aibt(&["template", "check", good.to_str().unwrap()])
        .success();
    assert!(
        run.stdout()
            .contains("ok; uses bars, cash, indicators, now, position, symbol"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("reads the account"),
        "{}",
        run.stdout()
    );

    let bad = env.write(
        "bad.j2",
        "Close {{ bars[-1].close }}\n{% if rsi %}\nlow\n{% endif %}\n",
    );
    let run = env
        .aibt(&["template", "check", bad.to_str().unwrap()])
        .failure();
    assert!(
        run.stderr().contains("line 2: unknown variable `rsi`"),
        "{}",
        run.stderr()
    );

    let broken = env.write("broken.j2", "a\n{% for b in bars %}\n{{ b.close }\n");
    let run = env
        .aibt(&["template", "check", broken.to_str().unwrap()])
        .failure();
    assert!(
        run.stderr().contains("line 3: syntax error"),
        "{}",
        run.stderr()
    );
}

#[test]
fn render_prints_exactly_what_the_model_receives() {
    let env = Env::sqlite();
    let file = env.write("t.j2", TEMPLATE);
    let run = env
        .aibt(&[
            "template",
            "render",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--at",
            "2012-03-01",
        ])
        .success();
    let prompt = run.stdout();
    assert!(
        prompt.starts_with("GOOG on 2012-03-01T00:00:00Z: close "),
        "{prompt}"
    );
    assert!(
        prompt.contains("Position FLAT 0.0, cash 10000.0."),
        "{prompt}"
    );

    // A date between bars takes the last bar before it (2012-03-03 is a Saturday).
    let weekend = env
        .aibt(&[
            "template",
            "render",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--at",
            "2012-03-03",
        ])
        .success();
    assert!(
        weekend.stdout().starts_with("GOOG on 2012-03-02T00:00:00Z"),
        "{}",
        weekend.stdout()
    );

    let blind = env
        .aibt(&[
            "template",
            "render",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--at",
            "2012-03-01",
            "--blind",
        ])
        .success();
    assert!(
        blind.stdout().starts_with("ASSET on bar "),
        "{}",
        blind.stdout()
    );
    assert!(!blind.stdout().contains("2012"), "{}", blind.stdout());

    let json = env
        .aibt(&[
            "template",
            "render",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--at",
            "2012-03-01",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(json["messages"][0]["role"], "system");
    assert_eq!(
        json["messages"][1]["content"].as_str(),
        Some(prompt.trim_end())
    );
    assert!(json["schema"]["anyOf"].is_array());

    let before = env
        .aibt(&[
            "template",
            "render",
            file.to_str().unwrap(),
            "--symbol",
            "GOOG",
            "--at",
            "1990-01-01",
        ])
        .failure();
    assert!(
        before.stderr().contains("--at: no bar of GOOG"),
        "{}",
        before.stderr()
    );
}

#[test]
fn a_backtest_against_a_model_then_again_from_the_cache_then_replayed() {
    let (_runtime, fake) = fake();
    let env = Env::sqlite();
    let template = env.write("t.j2", TEMPLATE);
    let url = fake.base_url();
    let args = backtest_args(template.to_str().unwrap(), &url);

    let first = env.aibt(&args).success().json();
    assert_eq!(first["status"], "COMPLETED");
    let stats = &first["stats"];
    let decisions = stats["llm_decisions"].as_u64().expect("decisions");
    assert_eq!(decisions, 22, "the trading days of March 2012");
    assert_eq!(stats["llm_calls"].as_u64(), Some(decisions));
    assert_eq!(stats["cache_hits"], 0);
    assert_eq!(stats["failed_decisions"], 0);
    assert!(stats["prompt_tokens"].as_u64().is_some_and(|t| t > 0));
    assert!(stats["latency_p95_ms"].is_number());
    assert_eq!(fake.calls() as u64, decisions);

    let second = env.aibt(&args).success().json();
    assert_eq!(
        fake.calls() as u64,
        decisions,
        "the second run called the model"
    );
    assert_eq!(second["stats"]["llm_calls"], 0);
    assert_eq!(second["stats"]["cache_hits"].as_u64(), Some(decisions));
    assert_eq!(second["stats"]["equity_final"], stats["equity_final"]);
    assert_eq!(second["stats"]["num_trades"], stats["num_trades"]);

    // The same decisions with ten times the commission and other cash.
    let source = first["task_id"].as_str().expect("task id");
    let replay = env
        .aibt(&[
            "backtest",
            "--replay",
            source,
            "--commission",
            "0.01",
            "--cash",
            "20000",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(replay["status"], "COMPLETED");
    assert_eq!(fake.calls() as u64, decisions, "a replay called the model");
    assert_eq!(replay["stats"]["strategy"], format!("replay:{source}"));
    assert_ne!(replay["stats"]["equity_final"], stats["equity_final"]);
    assert_eq!(replay["stats"]["decisions"].as_u64(), Some(decisions));

    // The table shows what the model cost.
    let table = env
        .aibt(&["task", "show", first["task_id"].as_str().unwrap()])
        .success();
    for label in [
        "LLM Calls",
        "Cache Hits",
        "Failed Decisions",
        "Latency p95 [ms]",
    ] {
        assert!(table.stdout().contains(label), "{}", table.stdout());
    }

    // Every decision row holds the prompt and the raw answer.
    let export = env
        .aibt(&[
            "task",
            "export",
            source,
            "--records",
            "decisions",
            "--format",
            "json",
        ])
        .success()
        .json();
    let rows = export["decisions"].as_array().expect("decisions");
    assert_eq!(rows.len() as u64, decisions);
    for row in rows {
        assert!(
            row["prompt"]
                .as_str()
                .is_some_and(|p| p.starts_with("GOOG on "))
        );
        assert!(
            row["raw_answer"]
                .as_str()
                .is_some_and(|a| a.contains("hashed"))
        );
        assert_eq!(row["llm_calls"], 1);
    }
}

#[test]
fn stored_ai_configs_keep_keys_sealed_and_can_be_tested() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime.block_on(FakeLlm::start(|_, _| {
        Reply::answer("{\"action\": \"HOLD\", \"confidence\": 0.5, \"reasoning\": \"test\"}")
    }));
    let env = Env::sqlite();
    let url = fake.base_url();
    env.aibt_with_input(
        &[
            "ai-config",
            "add",
            "local",
            "--base-url",
            &url,
            "--model",
            "fake-model",
            "--api-key-stdin",
            "--knowledge-cutoff",
            "2024-06-30",
        ],
        "sk-secret-abcdefgh1234\n",
    )
    .success();
    let list = env
        .aibt(&["ai-config", "list", "--format", "json"])
        .success();
    assert!(!list.stdout().contains("sk-secret"), "{}", list.stdout());
    let configs = list.json();
    assert_eq!(configs[0]["local_ai_api_key"], "****1234");
    assert_eq!(configs[0]["knowledge_cutoff"], "2024-06-30");
    let db = std::fs::read(env.path("aibt.db")).expect("db");
    assert!(
        !db.windows(9).any(|w| w == b"sk-secret"),
        "the key is stored in the clear"
    );

    let test = env.aibt(&["ai-config", "test", "local"]).success().json();
    assert_eq!(test["report"]["ok"], true);
    assert!(test["report"]["latency_ms"].is_number());
    assert_eq!(fake.calls(), 1);

    // A backtest by config name, which flags the period as before the model's cutoff.
    let template = env.write("t.j2", TEMPLATE);
    let run = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--start",
            "2012-03-01",
            "--end",
            "2012-03-09",
            "--template",
            template.to_str().unwrap(),
            "--ai-config",
            "local",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(run["status"], "COMPLETED");
    assert!(
        run["stats"]["memorisation_warning"]
            .as_str()
            .is_some_and(|w| w.contains("2024-06-30")),
        "{run}"
    );

    env.aibt(&[
        "ai-config",
        "add",
        "local",
        "--base-url",
        &url,
        "--model",
        "m",
    ])
    .failure();
    // A config that tasks used stays (the tasks name it); the refusal says why.
    let removed = env.aibt(&["ai-config", "remove", "local"]).failure();
    assert!(
        removed.stderr().contains("AI config"),
        "{}",
        removed.stderr()
    );
}

#[test]
fn bad_ai_flags_name_the_flag() {
    let env = Env::sqlite();
    let template = env.write("t.j2", TEMPLATE);
    let t = template.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["backtest", "--symbol", "GOOG", "--template", t],
            "--template needs a model",
        ),
        (
            vec![
                "backtest",
                "--symbol",
                "GOOG",
                "--template",
                t,
                "--ai-config",
                "nope",
            ],
            "--ai-config: no AI config is named \"nope\"",
        ),
        (
            vec![
                "backtest",
                "--symbol",
                "GOOG",
                "--template",
                t,
                "--base-url",
                "localhost:11434",
                "--model",
                "m",
            ],
            "--base-url: \"localhost:11434\" must start with http:// or https://",
        ),
        (
            vec![
                "backtest",
                "--symbol",
                "GOOG",
                "--template",
                t,
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--temperature",
                "3",
            ],
            "--temperature: 3.000000 is outside 0..=2",
        ),
        (
            vec![
                "backtest",
                "--symbol",
                "GOOG",
                "--template",
                t,
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--reasoning-effort",
                "max",
            ],
            "--reasoning-effort: \"max\" is not one of none, minimal, low, medium, high, xhigh",
        ),
        (
            vec![
                "backtest",
                "--symbol",
                "GOOG",
                "--template",
                "missing.j2",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
            ],
            "--template: reading missing.j2",
        ),
        (
            vec!["backtest", "--replay", "no-such-task"],
            "--replay: task \"no-such-task\" not found",
        ),
    ];
    for (args, expected) in cases {
        let run = env.aibt(&args).failure();
        assert!(
            run.stderr().contains(expected),
            "{args:?}: expected {expected:?} in {}",
            run.stderr()
        );
    }
    // Flags that only mean something for a model are refused without a template.
    let run = env
        .aibt(&["backtest", "--symbol", "GOOG", "--prefetch", "4"])
        .failure();
    assert!(run.stderr().contains("--template"), "{}", run.stderr());
}

#[test]
fn an_estimate_counts_calls_tokens_and_money_and_runs_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let answer =
        |_: usize, body: &serde_json::Value| Reply::answer(hashed_decision(&prompt_of(body)));
    let with_tokenizer = runtime.block_on(FakeLlm::start_with(answer, true));
    let without = runtime.block_on(FakeLlm::start_with(answer, false));
    let env = Env::sqlite();
    // Reads the market only, so the estimate renders exactly the prompts a run sends.
    let template = env.write(
        "t.j2",
        "{{ symbol }} on {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\n",
    );
    let priced = |url: &str| {
        let mut args = backtest_args(template.to_str().unwrap(), url)
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        args.extend(
            [
                "--price-input-per-million",
                "0.5",
                "--price-output-per-million",
                "2",
            ]
            .map(str::to_string),
        );
        args
    };
    let estimate = |args: &[String]| {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.push("--estimate");
        env.aibt(&args).success().json()
    };
    let url = with_tokenizer.base_url();
    let counted = estimate(&priced(&url));
    assert_eq!(counted["decisions"], 22, "the trading days of March 2012");
    assert_eq!(counted["cached"], 0);
    assert_eq!(counted["calls"], 22);
    assert_eq!(counted["prompt_tokens_by"], "server");
    assert_eq!(counted["exact"], true);
    assert_eq!(with_tokenizer.tokenized(), 22);
    assert_eq!(with_tokenizer.calls(), 0, "an estimate called the model");
    let prompt_tokens = counted["prompt_tokens"].as_u64().expect("tokens");
    assert!(prompt_tokens > 22 * 10, "{counted}");
    assert_eq!(counted["completion_tokens_max"], 22 * 2048);
    // 0.5 and 2 a million: exact decimals, computed here again.
    let prompt_money = aibt_core::Decimal::from(prompt_tokens) * aibt_core::Decimal::new(5, 1)
        / aibt_core::Decimal::from(1_000_000);
    let answers = aibt_core::Decimal::from(22 * 2048 * 2) / aibt_core::Decimal::from(1_000_000);
    let money = |key: &str| {
        counted[key]
            .as_str()
            .map(|m| m.parse::<aibt_core::Decimal>().expect("decimal"))
            .expect(key)
    };
    assert_eq!(money("prompt_money"), prompt_money.round_dp(8));
    assert_eq!(money("completion_money_max"), answers);
    assert_eq!(money("money_max"), (prompt_money + answers).round_dp(8));
    // Nothing was stored: no task, no account.
    let check = env
        .aibt(&["db", "check", "--format", "json"])
        .success()
        .json();
    for table in ["tasks", "virtual_accounts", "local_decisions"] {
        let rows = check["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|pair| pair[0] == table))
            .and_then(|pair| pair[1].as_i64());
        assert_eq!(rows, Some(0), "{table}: {check}");
    }

    // A server without /tokenize: estimated, and said so; no prices, no money.
    let other = without.base_url();
    let mut plain = backtest_args(template.to_str().unwrap(), &other);
    plain.push("--estimate");
    let estimated = env.aibt(&plain).success().json();
    assert_eq!(estimated["prompt_tokens_by"], "estimate");
    assert!(estimated["prompt_tokens"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(estimated["money_max"], serde_json::Value::Null);
    plain.retain(|a| *a != "--estimate" && *a != "json");
    plain.retain(|a| *a != "--format");
    plain.push("--estimate");
    let table = env.aibt(&plain).success();
    assert!(
        table.stdout().contains("the server has no /tokenize")
            && table.stdout().contains("the AI config has no prices"),
        "{}",
        table.stdout()
    );

    // After a run, the cache answers every decision: nothing left to pay for.
    let run = env.aibt(&priced(&url).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.success().json()["status"], "COMPLETED");
    let after = estimate(&priced(&url));
    assert_eq!(
        (after["cached"].as_u64(), after["calls"].as_u64()),
        (Some(22), Some(0))
    );
    assert_eq!(after["money_max"], "0.00000000");
}

#[test]
fn a_backtest_in_tool_mode_keeps_each_decisions_tool_calls() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // Looks at the account, then submits its hashed decision.
    let fake = runtime.block_on(FakeLlm::start(|_, body| {
        if aibt_testkit::tool_results(body).is_empty() {
            aibt_testkit::tool_calls(&[("get_position", serde_json::json!({}))])
        } else {
            let decision = hashed_decision(&prompt_of(body));
            aibt_testkit::tool_calls(&[("submit_decision", serde_json::Value::String(decision))])
        }
    }));
    let env = Env::sqlite();
    let template = env.write("t.j2", TEMPLATE);
    let url = fake.base_url();
    let mut args = backtest_args(template.to_str().unwrap(), &url);
    args.extend(["--decision-mode", "tools", "--max-tool-calls", "2"]);
    let estimate = env
        .aibt(&[&args[..], &["--estimate"]].concat())
        .success()
        .json();
    assert_eq!(estimate["calls"], 22, "{estimate}");
    assert_eq!(
        estimate["calls_max"],
        22 * 3,
        "two lookups and the submission"
    );
    let run = env.aibt(&args).success().json();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["stats"]["tool_decisions"], 22);
    assert_eq!(run["stats"]["tool_calls"], 44);
    assert_eq!(run["stats"]["llm_calls"], 44);
    assert_eq!(fake.calls(), 44);
    let task_id = run["task_id"].as_str().expect("id");
    let export = env
        .aibt(&[
            "task",
            "export",
            task_id,
            "--records",
            "decisions",
            "--format",
            "json",
        ])
        .success()
        .json();
    for row in export["decisions"].as_array().expect("decisions") {
        let tools: Vec<&str> = row["tool_transcript"]
            .as_array()
            .expect("transcript")
            .iter()
            .map(|call| call["tool"].as_str().expect("tool"))
            .collect();
        assert_eq!(tools, ["get_position", "submit_decision"], "{row}");
    }
    // A limit beyond what a decision may be given is refused by name.
    let mut wrong = backtest_args(template.to_str().unwrap(), &url);
    wrong.extend(["--decision-mode", "tools", "--max-tool-calls", "65"]);
    let refused = env.aibt(&wrong).failure().stderr();
    assert!(
        refused.contains("--max-tool-calls") && refused.contains("65 is not in 1..=64"),
        "{refused}"
    );
    let mut wrong = backtest_args(template.to_str().unwrap(), &url);
    wrong.extend(["--decision-mode", "agent"]);
    let refused = env.aibt(&wrong).failure().stderr();
    assert!(refused.contains("decision mode"), "{refused}");
}
