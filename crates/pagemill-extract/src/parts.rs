//! Sections longer than the model's context: counted in tokens, cut into parts at block
//! boundaries, and the parts' answers merged by one stated rule.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Tokens of `text` in OpenAI's `cl100k_base` encoding. Exact for the models that use it;
/// for others (Llama, SmolLM, Mistral tokenizers) a close estimate — English prose
/// measures within about 10 % — so leave that much headroom in `--max-section-tokens`.
pub fn count_tokens(text: &str) -> usize {
    static BPE: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    match BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()) {
        Some(bpe) => bpe.encode_ordinary(text).len(),
        // The encoding is compiled into the binary and cannot be missing; if it ever
        // fails to load, count 3 characters a token (denser than any real text).
        None => text.chars().count().div_ceil(3),
    }
}

/// Cuts `markdown` into parts of at most `budget` tokens each, at blank lines (between
/// blocks: paragraphs, lists, tables, code), then at line ends inside a block too long
/// alone, then between words inside a line too long alone. Nothing is dropped: the parts
/// joined by blank lines hold every word of the text.
pub fn split(markdown: &str, budget: usize) -> Vec<String> {
    let budget = budget.max(1);
    if count_tokens(markdown) <= budget {
        return vec![markdown.to_string()];
    }
    let mut units = Vec::new();
    for block in markdown.split("\n\n").filter(|b| !b.trim().is_empty()) {
        if count_tokens(block) <= budget {
            units.push(block.to_string());
            continue;
        }
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            if count_tokens(line) <= budget {
                units.push(line.to_string());
            } else {
                units.extend(pack(
                    line.split_whitespace().map(str::to_string),
                    budget,
                    " ",
                ));
            }
        }
    }
    pack(units.into_iter(), budget, "\n\n")
}

/// Greedy packing of pieces into parts within `budget`, joined by `sep`.
fn pack(pieces: impl Iterator<Item = String>, budget: usize, sep: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut open = String::new();
    let mut open_tokens = 0;
    for piece in pieces {
        let t = count_tokens(&piece);
        if !open.is_empty() && open_tokens + t + 1 > budget {
            parts.push(std::mem::take(&mut open));
            open_tokens = 0;
        }
        if !open.is_empty() {
            open.push_str(sep);
        }
        open.push_str(&piece);
        open_tokens += t + 1;
    }
    if !open.is_empty() {
        parts.push(open);
    }
    parts
}

/// One answer from the answers to a section's parts, in part order:
/// - objects merge key by key, recursively;
/// - arrays are concatenated, an item equal to one already there kept once;
/// - strings that differ are joined by a blank line (equal ones kept once);
/// - numbers, booleans and nulls: the first part's value that is not null.
///
/// The merged answer is checked against the schema again by the caller.
pub fn merge(answers: Vec<Value>) -> Value {
    let mut it = answers.into_iter();
    let Some(mut acc) = it.next() else {
        return Value::Null;
    };
    for next in it {
        acc = merge_two(acc, next);
    }
    acc
}

fn merge_two(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old) => merge_two(old, v),
                    None => v,
                };
                x.insert(k, merged);
            }
            Value::Object(x)
        }
        (Value::Array(mut x), Value::Array(y)) => {
            for v in y {
                if !x.contains(&v) {
                    x.push(v);
                }
            }
            Value::Array(x)
        }
        (Value::String(x), Value::String(y)) => {
            if x == y || y.is_empty() {
                Value::String(x)
            } else if x.is_empty() {
                Value::String(y)
            } else {
                Value::String(format!("{x}\n\n{y}"))
            }
        }
        (Value::Null, y) => y,
        (x, _) => x,
    }
}

/// An empty object, for callers building answers.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_counted_with_cl100k() {
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens(""), 0);
    }

    #[test]
    fn a_long_text_is_cut_at_blocks_within_the_budget_and_nothing_is_lost() {
        let para = |i: usize| format!("Paragraph {i} says something about topic {i} at length.");
        let text: Vec<String> = (0..40).map(para).collect();
        let text = text.join("\n\n");
        let parts = split(&text, 60);
        assert!(parts.len() > 3, "{}", parts.len());
        for p in &parts {
            assert!(count_tokens(p) <= 60, "{}: {p}", count_tokens(p));
            assert!(!p.starts_with("\n") && !p.ends_with("\n"));
        }
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(words(&parts.join("\n\n")), words(&text));
    }

    #[test]
    fn a_block_or_line_too_long_alone_is_cut_at_lines_then_words() {
        let line = "word ".repeat(500);
        let parts = split(&format!("short\n\n{line}"), 100);
        assert!(parts.iter().all(|p| count_tokens(p) <= 100));
        let words: usize = parts.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 501);
    }

    #[test]
    fn answers_merge_by_the_stated_rule() {
        let merged = merge(vec![
            json!({"title": "A", "items": [1, 2], "summary": "one", "count": 3, "x": null}),
            json!({"title": "A", "items": [2, 3], "summary": "two", "count": 5, "x": true, "new": "n"}),
        ]);
        assert_eq!(
            merged,
            json!({"title": "A", "items": [1, 2, 3], "summary": "one\n\ntwo", "count": 3, "x": true, "new": "n"})
        );
        assert_eq!(merge(vec![]), Value::Null);
    }
}
