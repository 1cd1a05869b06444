//! End to end against a real model: llama.cpp's `llama-server` serving SmolLM2-135M-Instruct,
//! both from PyPI, built and started by `scripts/real-llm.sh` (the build is cached per machine;
//! `.ci/run` makes it before the tests, so here it returns at once).
//!
//! A fake server answers what a test programs; a real one does what models do: confidences
//! above 1 (the grammar does not enforce numeric bounds), answers cut at the token limit,
//! decisions that make no sense. The run must still complete and record every answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Env;
use serde_json::Value;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/real-llm.sh")
}

fn example_template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/trend-follower.j2")
}

/// A llama-server on a free port, stopped when dropped.
struct RealLlm {
    port: u16,
    url: String,
}

impl RealLlm {
    fn start() -> RealLlm {
        let build = Command::new("bash")
            .arg(script())
            .arg("build")
            .status()
            .expect("run scripts/real-llm.sh build");
        assert!(build.success(), "scripts/real-llm.sh build failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let out = Command::new("bash")
            .arg(script())
            .args(["start", &port.to_string()])
            .output()
            .expect("run scripts/real-llm.sh start");
        assert!(
            out.status.success(),
            "llama-server did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(url, format!("http://127.0.0.1:{port}/v1"));
        RealLlm { port, url }
    }
}

impl Drop for RealLlm {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", &self.port.to_string()])
            .status();
    }
}

fn decisions(env: &Env, task_id: &str) -> Vec<Value> {
    env.aibt(&[
        "task",
        "export",
        task_id,
        "--records",
        "decisions",
        "--format",
        "json",
    ])
    .success()
    .json()["decisions"]
        .as_array()
        .expect("decisions")
        .clone()
}

fn confidence(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn a_real_model_carries_a_twenty_step_backtest() {
    let llm = RealLlm::start();
    let env = Env::sqlite();
    let template = example_template();
    let args = [
        "backtest",
        "--symbol",
        "GOOG",
        "--start",
        "2010-06-01",
        "--end",
        "2010-06-28",
        "--template",
        template.to_str().expect("path"),
        "--base-url",
        &llm.url,
        "--model",
        "smollm2-135m",
        "--response-format",
        "json_schema",
        // A 135M model fails often; the run must end, with its failures counted.
        "--failure-limit",
        "20",
        "--format",
        "json",
    ];
    // Before the run: its prompts counted by llama.cpp's own tokenizer, no call made.
    let estimate = env
        .aibt(&[&args[..], &["--estimate"]].concat())
        .success()
        .json();
    assert_eq!(estimate["calls"], 20, "{estimate}");
    assert_eq!(estimate["prompt_tokens_by"], "server", "{estimate}");
    let estimated = estimate["prompt_tokens"].as_u64().expect("tokens");
    let run = env.aibt(&args).success().json();
    let status = run["status"].as_str().expect("status");
    assert!(
        status == "COMPLETED" || status == "COMPLETED_WITH_ERRORS",
        "{run}"
    );
    let stats = &run["stats"];
    assert_eq!(stats["llm_decisions"], 20, "{stats}");
    assert!(stats["llm_calls"].as_u64().expect("calls") >= 20);
    let prompt_tokens = stats["prompt_tokens"].as_u64().expect("tokens");
    assert!(prompt_tokens > 20 * 100);
    // The server counted the same prompts, with its chat template's few markers more (and
    // the re-asks' longer prompts besides).
    assert!(
        estimated > 20 * 100 && estimated <= prompt_tokens,
        "estimated {estimated}, sent {prompt_tokens}"
    );
    let failed = stats["failed_decisions"].as_u64().expect("failed");
    assert_eq!(status == "COMPLETED", failed == 0);

    let rows = decisions(&env, run["task_id"].as_str().expect("id"));
    assert_eq!(rows.len(), 20);
    for row in &rows {
        let raw = row["raw_answer"].as_str().unwrap_or_default();
        let error = row["error"].as_str();
        assert!(
            !raw.is_empty() || error.is_some_and(|e| e.starts_with("the call failed")),
            "a decision without the model's answer: {row}"
        );
        assert!(row["prompt"].as_str().is_some_and(|p| p.contains("GOOG")));
        assert!(row["completion_tokens"].as_u64().is_some());
        match error {
            // A usable answer: its confidence is within 0..1, whatever the model wrote.
            None => {
                let parsed = &row["parsed_decision"];
                let c = confidence(&parsed["confidence"]).expect("confidence");
                assert!((0.0..=1.0).contains(&c), "{row}");
                assert_eq!(parsed["action"], row["decision_result"]);
            }
            // A failed one is a HOLD with no confidence, the answer kept for the reader.
            Some(_) => {
                assert_eq!(row["decision_result"], "HOLD", "{row}");
                assert_eq!(confidence(&row["confidence_score"]), Some(0.0));
                assert!(row["parsed_decision"].is_null());
            }
        }
    }

    // Answers cut at the token limit are failed decisions, their partial text kept.
    let cut = env
        .aibt(&[
            "backtest",
            "--symbol",
            "GOOG",
            "--start",
            "2010-06-01",
            "--end",
            "2010-06-07",
            "--template",
            template.to_str().expect("path"),
            "--base-url",
            &llm.url,
            "--model",
            "smollm2-135m",
            "--max-tokens",
            "16",
            "--answer-retries",
            "1",
            "--failure-limit",
            "10",
            "--format",
            "json",
        ])
        .success()
        .json();
    assert_eq!(cut["status"], "COMPLETED_WITH_ERRORS", "{cut}");
    let rows = decisions(&env, cut["task_id"].as_str().expect("id"));
    assert_eq!(
        cut["stats"]["failed_decisions"].as_u64(),
        Some(rows.len() as u64)
    );
    for row in &rows {
        let error = row["error"].as_str().expect("failed");
        assert!(error.contains("cut off at the token limit"), "{row}");
        let raw = row["raw_answer"].as_str().expect("partial answer");
        assert!(
            raw.trim_start().starts_with('{') || raw.contains("```"),
            "{row}"
        );
        assert_eq!(row["llm_calls"], 2, "asked again once");
    }

    // Tool mode. This llama-server renders no tools into SmolLM2's prompt (nor with the
    // tool-use chat templates of its source tree tried on it), so the model answers in text
    // without a tool call: aibt falls back to the JSON path at the first decision, remembers
    // it on the config, and says so.
    env.aibt(&[
        "ai-config",
        "add",
        "tiny-tools",
        "--base-url",
        &llm.url,
        "--model",
        "smollm2-135m",
        "--decision-mode",
        "tools",
        // The text it writes instead of a tool call runs to the limit: keep it short.
        "--max-tokens",
        "300",
    ])
    .success();
    let tools_run = [
        "backtest",
        "--symbol",
        "GOOG",
        "--start",
        "2010-06-01",
        "--end",
        "2010-06-07",
        "--template",
        template.to_str().expect("path"),
        "--ai-config",
        "tiny-tools",
        "--failure-limit",
        "10",
        "--format",
        "json",
    ];
    let fallback = env.aibt(&tools_run).success().json();
    let status = fallback["status"].as_str().expect("status");
    assert!(status.starts_with("COMPLETED"), "{fallback}");
    let warning = fallback["stats"]["tool_fallback"]
        .as_str()
        .expect("the fallback is reported");
    assert!(warning.contains("without calling a tool"), "{warning}");
    assert_eq!(fallback["stats"]["tool_decisions"], 0);
    let rows = decisions(&env, fallback["task_id"].as_str().expect("id"));
    assert!(!rows.is_empty());
    // The first decision paid for the refused call; none after it offered tools.
    assert!(
        rows[0]["llm_calls"].as_u64().expect("calls") >= 2,
        "{}",
        rows[0]
    );
    for row in &rows {
        assert!(row["tool_transcript"].is_null(), "{row}");
        assert!(!row["raw_answer"].as_str().unwrap_or_default().is_empty());
    }
    let configs = env
        .aibt(&["ai-config", "list", "--format", "json"])
        .success()
        .json();
    let tiny = configs
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == "tiny-tools")
        .expect("the config");
    assert_eq!(tiny["decision_mode"], "tools");
    assert_eq!(tiny["tools_refused"].as_str(), Some(warning));
}
