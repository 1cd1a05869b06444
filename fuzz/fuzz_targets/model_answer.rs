//! What a model's server sends back: the HTTP body of a chat completion, and the answer text
//! inside it (thinking blocks, JSON, prose), and the tool calls it makes in tool mode. Read
//! into a decision, a tool request or refused with a reason; a decision read is always within
//! its ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(completion) = aibt_ai::client::parse_completion(text) {
        let _ = aibt_ai::llm::read_completion(&completion, 2048);
        for call in &completion.tool_calls {
            let _ = aibt_ai::tools::read_call(call);
        }
    }
    // The text as a tool call's arguments, for each tool.
    for name in [
        "get_bars",
        "get_indicator",
        "get_position",
        "get_decisions",
        "get_context",
        "validate_order",
    ] {
        let call = aibt_ai::client::ToolCall {
            id: "fuzz".into(),
            name: name.into(),
            arguments: text.to_string(),
        };
        let _ = aibt_ai::tools::read_call(&call);
    }
    let split = aibt_ai::thinking::split_thinking(text);
    for answer in [text, split.answer.as_str()] {
        if let Ok(decision) = aibt_ai::answer::parse_answer(answer) {
            let json = aibt_ai::answer::decision_json(&decision);
            assert_eq!(
                aibt_ai::answer::decision_from_json(&json).as_ref(),
                Some(&decision),
                "{answer:?}"
            );
        }
    }
    let completion = aibt_ai::client::Completion {
        content: text.to_string(),
        reasoning: None,
        finish_reason: Some("stop".into()),
        prompt_tokens: None,
        completion_tokens: None,
        reasoning_tokens: None,
        tool_calls: Vec::new(),
    };
    let _ = aibt_ai::llm::read_completion(&completion, 2048);
});
