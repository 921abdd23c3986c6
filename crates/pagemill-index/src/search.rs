//! Queries: BM25, vector, or both fused by their relative scores.
//!
//! Hybrid search asks each retriever for more candidates than it returns, rescales each
//! list's scores to 0–1 (its worst candidate 0, its best 1) and scores each chunk by
//! 0.25 × its BM25 share + 0.75 × its vector share, 0 for a list it is not in: the
//! "relative score fusion" of Weaviate, with its default weight. Against reciprocal-rank
//! fusion (k = 60) on three query sets (`scripts/eval-queries`; R-refman's 18 and two
//! held-out sets of 20 written for the gnuplot and Debian reference manuals), recall@5
//! was 54 of 58 against 53: rank fusion gives a weak BM25 list (a paraphrased question
//! shares few words with its answer) as much say as a good vector list, where scores
//! keep a clear vector winner on top. The weight is the library default, not fitted to
//! these questions; BENCHMARKS.md has the per-set numbers.

use pagemill_embed::Embedder;

use crate::store::{Filter, Store, StoredChunk};
use crate::IndexError;

/// Which retriever answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BM25 and vector hits fused by relative score.
    Hybrid,
    /// Cosine similarity of embeddings only.
    Vector,
    /// BM25 over heading paths and text only.
    Bm25,
}

/// The vector list's weight in hybrid fusion (BM25's is the rest).
const VECTOR_WEIGHT: f32 = 0.75;

/// One result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// Higher is better: fused relative score (0–1), cosine similarity, or BM25 score by
    /// mode.
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
            let bm25 = store.text_search(query, depth, filter)?;
            let vectors = vector(store, embedder, query, depth, filter)?;
            fuse(&[(1.0 - VECTOR_WEIGHT, bm25), (VECTOR_WEIGHT, vectors)])
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

/// Relative score fusion: each list's scores rescaled to 0–1 by its own lowest and highest
/// (all 1 when they are equal), weighted, summed per chunk; best first.
fn fuse(lists: &[(f32, Vec<(i64, f32)>)]) -> Vec<(i64, f32)> {
    let mut fused: Vec<(i64, f32)> = Vec::new();
    for (weight, list) in lists {
        let lo = list.iter().map(|x| x.1).fold(f32::INFINITY, f32::min);
        let hi = list.iter().map(|x| x.1).fold(f32::NEG_INFINITY, f32::max);
        for (id, score) in list {
            let share = if hi > lo {
                (score - lo) / (hi - lo)
            } else {
                1.0
            };
            match fused.iter_mut().find(|(f, _)| f == id) {
                Some((_, total)) => *total += weight * share,
                None => fused.push((*id, weight * share)),
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
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
    fn fusion_rescales_each_list_and_weights_the_vectors() {
        // BM25 likes 1 strongly; vectors like 2, then 1, then 3.
        let bm25 = vec![(1, 20.0), (4, 6.0), (5, 5.0)];
        let vectors = vec![(2, 0.60), (1, 0.55), (3, 0.20)];
        let fused = fuse(&[(0.25, bm25), (0.75, vectors)]);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        // 1: 0.25·1 + 0.75·0.875 = 0.906; 2: 0.75; 4: 0.25·(1/15) = 0.017; 3, 5: 0.
        assert_eq!(&ids[..3], &[1, 2, 4]);
        assert!((fused[0].1 - 0.90625).abs() < 1e-5, "{fused:?}");
        assert_eq!(fused.len(), 5);
        // A list of one (or of equal scores) counts fully.
        let fused = fuse(&[(0.25, vec![(7, 3.0)]), (0.75, Vec::new())]);
        assert_eq!(fused, vec![(7, 0.25)]);
    }

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
