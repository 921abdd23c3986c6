//! Both backends agree with sentence-transformers: reference vectors made once by
//! `scripts/make-embedding-fixture` (sentence-transformers on torch, same weights) for
//! texts from short words to one past the 256-token window. `scripts/setup` installs both
//! (ONNX Runtime and the graph too), so neither is skipped.

use pagemill_embed::{cosine, models_dir, Backend, Embedder, MiniLm};

#[derive(serde::Deserialize)]
struct Reference {
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    text: String,
    vector: Vec<f32>,
}

fn model(backend: Backend) -> MiniLm {
    let dir = models_dir().join(MiniLm::NAME);
    MiniLm::load_with(&dir, backend).unwrap_or_else(|e| panic!("{e}"))
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/minilm_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference vectors");
    serde_json::from_str(&text).expect("reference JSON")
}

#[test]
fn candle_vectors_agree_with_sentence_transformers_to_cosine_0_9999() {
    agrees(&model(Backend::Candle));
}

#[test]
fn onnx_runtime_vectors_agree_with_sentence_transformers_to_cosine_0_9999() {
    let model = model(Backend::Onnx);
    assert_eq!(model.backend(), "onnxruntime");
    agrees(&model);
}

#[test]
fn auto_prefers_onnx_runtime_when_installed() {
    assert_eq!(model(Backend::Auto).backend(), "onnxruntime");
}

fn agrees(model: &MiniLm) {
    let r = reference();
    assert_eq!(r.max_seq_length, model.max_tokens() + 2);
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    // All at once (sorted, padded batches) and one by one must both agree.
    let together = model.embed(&texts).expect("embed");
    for (item, v) in r.items.iter().zip(&together) {
        assert_eq!(v.len(), 384);
        let c = cosine(v, &item.vector);
        assert!(
            c >= 0.9999,
            "cosine {c} for {:?}",
            &item.text[..item.text.len().min(40)]
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    for item in r.items.iter().take(4) {
        let alone = model.embed(&[item.text.as_str()]).expect("embed");
        assert!(cosine(&alone[0], &item.vector) >= 0.9999);
    }
}

#[test]
fn a_text_past_the_window_is_cut_not_refused() {
    for backend in [Backend::Candle, Backend::Onnx] {
        past_the_window(&model(backend));
    }
}

fn past_the_window(model: &MiniLm) {
    let long = "word ".repeat(2000);
    assert!(model.count_tokens(&long) >= 2000);
    let v = model.embed(&[long.as_str()]).expect("embed");
    assert_eq!(v[0].len(), 384);
}
