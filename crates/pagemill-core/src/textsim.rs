//! Text similarity for tests and benchmarks: how close converted text is to a reference.
//!
//! Both texts are reduced to lower-case words (Markdown syntax and punctuation dropped), then
//! compared two ways:
//! - [`word_f1`]: bag-of-words F1 — are the right words there, whatever their order;
//! - [`order_ratio`]: 2·LCS / (n + m) over the word sequences — are they in the right order
//!   (the measure Python's `difflib.SequenceMatcher.ratio` approximates).

/// Lower-case word tokens of `text`, ignoring Markdown markup, HTML comments and punctuation.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut clean = String::with_capacity(text.len());
    while let Some(start) = rest.find("<!--") {
        clean.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    clean.push_str(rest);
    let mut cur = String::new();
    for c in clean.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Bag-of-words F1 of `candidate` against `reference` (1.0 = same multiset of words).
pub fn word_f1(candidate: &[String], reference: &[String]) -> f64 {
    use std::collections::HashMap;
    if candidate.is_empty() || reference.is_empty() {
        return if candidate.is_empty() && reference.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for w in reference {
        *counts.entry(w).or_default() += 1;
    }
    let mut common = 0i64;
    for w in candidate {
        if let Some(c) = counts.get_mut(w.as_str()) {
            if *c > 0 {
                *c -= 1;
                common += 1;
            }
        }
    }
    let p = common as f64 / candidate.len() as f64;
    let r = common as f64 / reference.len() as f64;
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Order-aware similarity: 2·LCS(a, b) / (|a| + |b|), computed in O(|a|·|b|) time and
/// O(|b|) memory.
pub fn order_ratio(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    2.0 * prev[b.len()] as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_markup_and_case() {
        assert_eq!(
            words("## Hello, *World*!\n<!-- x y -->`a_b`"),
            vec!["hello", "world", "a", "b"]
        );
    }

    #[test]
    fn scores() {
        let a = words("the quick brown fox");
        let b = words("the brown quick fox");
        assert_eq!(word_f1(&a, &b), 1.0);
        assert!((order_ratio(&a, &b) - 0.75).abs() < 1e-9);
        assert_eq!(word_f1(&a, &words("")), 0.0);
        assert_eq!(order_ratio(&a, &a), 1.0);
    }
}
