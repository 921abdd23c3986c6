//! Queries: BM25, vector, or both fused by reciprocal rank.
//!
//! Hybrid search asks each retriever for more candidates than it returns and scores each
//! chunk by Σ 1/(60 + rank) over the lists it appears in (Cormack et al.'s reciprocal-rank
//! fusion, k = 60): no score normalisation to tune, and a chunk both retrievers rank well
//! wins over one only a single retriever likes.

use pagemill_embed::Embedder;

use crate::store::{Filter, Store, StoredChunk};
use crate::IndexError;

/// Which retriever answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BM25 and vector hits fused by reciprocal rank.
    Hybrid,
    /// Cosine similarity of embeddings only.
    Vector,
    /// BM25 over heading paths and text only.
    Bm25,
}

/// The rank constant of reciprocal-rank fusion.
const RRF_K: f32 = 60.0;

/// One result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// Higher is better: fused RRF score, cosine similarity, or BM25 score by mode.
    pub score: f32,
    /// The chunk.
    #[serde(flatten)]
    pub chunk: StoredChunk,
    /// A short passage of the chunk around the query's words, which are marked `**…**`.
    pub snippet: String,
}

/// Searches `store` for `query`; at most `k` hits, best first.
pub fn search(
    store: &dyn Store,
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    mode: Mode,
    filter: &Filter,
) -> Result<Vec<Hit>, IndexError> {
    let k = k.max(1);
    // Each retriever's list is longer than k so that fusion can lift a chunk ranked
    // moderately by both above one ranked first by one.
    let depth = (k * 4).max(40);
    let mut scored: Vec<(i64, f32)> = match mode {
        Mode::Bm25 => store.text_search(query, k, filter)?,
        Mode::Vector => vector(store, embedder, query, k, filter)?,
        Mode::Hybrid => {
            let lists = [
                store.text_search(query, depth, filter)?,
                vector(store, embedder, query, depth, filter)?,
            ];
            let mut fused: Vec<(i64, f32)> = Vec::new();
            for list in &lists {
                for (rank, (id, _)) in list.iter().enumerate() {
                    let s = 1.0 / (RRF_K + rank as f32 + 1.0);
                    match fused.iter_mut().find(|(f, _)| f == id) {
                        Some((_, total)) => *total += s,
                        None => fused.push((*id, s)),
                    }
                }
            }
            fused.sort_by(|a, b| b.1.total_cmp(&a.1));
            fused
        }
    };
    // Ask the store for a few more than k: chunks of documents being rewritten are skipped.
    scored.truncate(k + 8);
    let ids: Vec<i64> = scored.iter().map(|(id, _)| *id).collect();
    let chunks = store.chunks(&ids)?;
    let terms = query_terms(query);
    let mut hits = Vec::with_capacity(k);
    for (id, score) in scored {
        if hits.len() == k {
            break;
        }
        if let Some(c) = chunks.iter().find(|c| c.rowid == id) {
            hits.push(Hit {
                score,
                snippet: snippet(&c.text, &terms, 40),
                chunk: c.clone(),
            });
        }
    }
    Ok(hits)
}

fn vector(
    store: &dyn Store,
    embedder: &dyn Embedder,
    query: &str,
    k: usize,
    filter: &Filter,
) -> Result<Vec<(i64, f32)>, IndexError> {
    let v = embedder.embed(&[query])?;
    let Some(v) = v.first() else {
        return Ok(Vec::new());
    };
    // Cosine distance → similarity, so that higher is better in every mode.
    Ok(store
        .vector_search(v, k, filter)?
        .into_iter()
        .map(|(id, d)| (id, 1.0 - d))
        .collect())
}

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "of", "on", "or", "that", "the", "this", "to", "what", "when", "which",
    "with", "you", "my", "me", "we", "there", "into", "its",
];

/// A word reduced for matching: lower case, a few English endings off.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in ["ing", "ed", "s"] {
        if let Some(s) = w.strip_suffix(suffix) {
            if s.chars().count() >= 3 {
                return s.to_string();
            }
        }
    }
    w
}

fn query_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .map(stem)
        .collect()
}

/// About `words` words of `text` around the densest run of query terms, with the terms
/// marked `**…**`.
pub fn snippet(text: &str, terms: &[String], words: usize) -> String {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let hit = |t: &str| {
        t.split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|p| !p.is_empty() && terms.contains(&stem(p)))
    };
    let marks: Vec<bool> = tokens.iter().map(|t| hit(t)).collect();
    let window = words.min(tokens.len());
    let mut best = (0, 0usize);
    if window > 0 {
        let mut count = marks[..window].iter().filter(|m| **m).count();
        best = (0, count);
        for start in 1..=tokens.len() - window {
            count += usize::from(marks[start + window - 1]);
            count -= usize::from(marks[start - 1]);
            if count > best.1 {
                best = (start, count);
            }
        }
    }
    let (start, end) = (best.0, best.0 + window);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for (i, t) in tokens[start..end].iter().enumerate() {
        if i > 0 || start > 0 {
            out.push(' ');
        }
        if marks[start + i] {
            out.push_str(&format!("**{t}**"));
        } else {
            out.push_str(t);
        }
    }
    if end < tokens.len() {
        out.push_str(" …");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_centre_on_the_query_words_and_mark_them() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            + " reading tables from files is done by read.table here";
        let s = snippet(&text, &query_terms("How do I read a table?"), 8);
        assert!(s.contains("**tables**"), "{s}");
        assert!(s.contains("**read.table**"), "{s}");
        assert!(s.starts_with('…'));
    }

    #[test]
    fn stopwords_are_not_terms() {
        assert_eq!(query_terms("What is the mean of x?"), ["mean", "x"]);
    }
}
