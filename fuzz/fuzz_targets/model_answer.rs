//! What a model's server sends back: the HTTP body of a chat completion, and the answer text
//! inside it (thinking blocks, JSON, prose). Read into a decision or refused with a reason;
//! a decision read is always within its ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(completion) = aibt_ai::client::parse_completion(text) {
        let _ = aibt_ai::llm::read_completion(&completion, 2048);
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
    };
    let _ = aibt_ai::llm::read_completion(&completion, 2048);
});
