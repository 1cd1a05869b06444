//! Separating a reasoning model's thinking from its answer.
//!
//! Models that think before they answer (DeepSeek-R1, Qwen3, QwQ, gpt-oss…) either put the
//! thinking in the message content as a `<think>…</think>` block (also spelt `<thinking>` or
//! `<reasoning>`), or in a separate `reasoning_content` / `reasoning` field of the message.
//! Thinking often drafts a decision, JSON included, and then rejects it: only the answer after
//! the thinking is a decision. Some chat templates open the block in the prompt, so the content
//! starts inside the thinking and holds only its closing tag.

/// The tag names that enclose thinking.
const TAGS: [&str; 3] = ["think", "thinking", "reasoning"];

/// A model's content, with its thinking set apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// The thinking blocks' text, joined by blank lines; `None` when there was none.
    pub thinking: Option<String>,
    /// What remains: the answer, trimmed.
    pub answer: String,
    /// A thinking block was opened and never closed: the model was still thinking when its
    /// answer ended.
    pub unfinished: bool,
}

/// The first tag of `kind` (`<name>` or `</name>`, any case) in `text` at or after `from`:
/// where it starts and where it ends.
fn find_tag(text: &str, from: usize, closing: bool) -> Option<(usize, usize)> {
    let lower = text.get(from..)?.to_ascii_lowercase();
    TAGS.iter()
        .filter_map(|name| {
            let tag = if closing {
                format!("</{name}>")
            } else {
                format!("<{name}>")
            };
            lower
                .find(&tag)
                .map(|at| (from + at, from + at + tag.len()))
        })
        .min()
}

/// Splits `content` into thinking and answer.
pub fn split_thinking(content: &str) -> Split {
    let mut thoughts: Vec<&str> = Vec::new();
    let mut answer = String::new();
    let mut unfinished = false;
    let mut rest = content;
    // A closing tag before any opening one: the template opened the block in the prompt.
    if let Some((close_at, close_end)) = find_tag(rest, 0, true)
        && find_tag(rest, 0, false).is_none_or(|(open_at, _)| open_at > close_at)
    {
        thoughts.push(&rest[..close_at]);
        rest = &rest[close_end..];
    }
    while let Some((open_at, open_end)) = find_tag(rest, 0, false) {
        answer.push_str(&rest[..open_at]);
        match find_tag(rest, open_end, true) {
            Some((close_at, close_end)) => {
                thoughts.push(&rest[open_end..close_at]);
                rest = &rest[close_end..];
            }
            None => {
                thoughts.push(&rest[open_end..]);
                unfinished = true;
                rest = "";
            }
        }
    }
    answer.push_str(rest);
    let thinking: Vec<&str> = thoughts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect();
    Split {
        thinking: (!thinking.is_empty()).then(|| thinking.join("\n\n")),
        answer: answer.trim().to_string(),
        unfinished,
    }
}

/// The thinking of a message: its separate reasoning field and the blocks in its content,
/// in that order.
pub fn join_thinking(field: Option<&str>, blocks: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [field, blocks]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_thinking_is_left_alone() {
        let split = split_thinking("  {\"action\": \"BUY\"} ");
        assert_eq!(split.thinking, None);
        assert_eq!(split.answer, "{\"action\": \"BUY\"}");
        assert!(!split.unfinished);
    }

    #[test]
    fn a_drafted_decision_in_the_thinking_is_not_the_answer() {
        let content = "<think>Maybe {\"action\": \"BUY\", \"confidence\": 0.9}? No, RSI is high.</think>\n\
                       {\"action\": \"HOLD\", \"confidence\": 0.6}";
        let split = split_thinking(content);
        assert_eq!(
            split.thinking.as_deref(),
            Some("Maybe {\"action\": \"BUY\", \"confidence\": 0.9}? No, RSI is high.")
        );
        assert_eq!(split.answer, "{\"action\": \"HOLD\", \"confidence\": 0.6}");
    }

    #[test]
    fn every_spelling_and_case_of_the_tag_is_thinking() {
        for (open, close) in [
            ("<thinking>", "</thinking>"),
            ("<reasoning>", "</reasoning>"),
            ("<THINK>", "</Think>"),
        ] {
            let split = split_thinking(&format!("{open}draft{close}answer"));
            assert_eq!(split.thinking.as_deref(), Some("draft"), "{open}");
            assert_eq!(split.answer, "answer", "{open}");
        }
    }

    #[test]
    fn a_block_opened_by_the_template_ends_at_its_closing_tag() {
        let split = split_thinking("the trend is up…\n</think>\n\n{\"action\": \"BUY\"}");
        assert_eq!(split.thinking.as_deref(), Some("the trend is up…"));
        assert_eq!(split.answer, "{\"action\": \"BUY\"}");
    }

    #[test]
    fn an_unclosed_block_is_thinking_that_did_not_finish() {
        let split = split_thinking("<think>Let me consider {\"action\": \"SELL\"");
        assert!(split.unfinished);
        assert_eq!(split.answer, "");
        assert_eq!(
            split.thinking.as_deref(),
            Some("Let me consider {\"action\": \"SELL\"")
        );
    }

    #[test]
    fn several_blocks_are_all_thinking() {
        let split = split_thinking("<think>a</think> text <think>b</think> {\"x\": 1}");
        assert_eq!(split.thinking.as_deref(), Some("a\n\nb"));
        assert_eq!(split.answer, "text  {\"x\": 1}");
    }

    #[test]
    fn an_empty_block_is_no_thinking() {
        let split = split_thinking("<think>\n\n</think>{\"x\": 1}");
        assert_eq!(split.thinking, None);
        assert_eq!(split.answer, "{\"x\": 1}");
    }

    #[test]
    fn multibyte_text_around_the_tags_is_kept_whole() {
        let split = split_thinking("<think>趋势向上</think>买入 {\"x\": 1}");
        assert_eq!(split.thinking.as_deref(), Some("趋势向上"));
        assert_eq!(split.answer, "买入 {\"x\": 1}");
    }

    #[test]
    fn the_reasoning_field_comes_before_the_blocks() {
        assert_eq!(
            join_thinking(Some(" a "), Some("b")).as_deref(),
            Some("a\n\nb")
        );
        assert_eq!(join_thinking(Some(""), None), None);
    }
}
