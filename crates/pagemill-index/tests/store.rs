//! The embedded store on its own, with small synthetic vectors: filters, removal, the
//! incomplete-document rule, the model check.

use pagemill_chunk::{Chunk, ChunkKind, SourceBlock};
use pagemill_core::model::BBox;
use pagemill_index::entities::extract;
use pagemill_index::store::NewChunk;
use pagemill_index::{open_store, EmbeddedStore, Filter, IndexError, Store};

const DIM: usize = 4;

fn chunk(seq: u32, page: u32, text: &str) -> Chunk {
    Chunk {
        seq,
        id: format!("c{seq}"),
        kind: ChunkKind::Text,
        heading_path: vec!["Part".into()],
        text: text.into(),
        tokens: text.split_whitespace().count(),
        pages: (page, page),
        sources: vec![SourceBlock {
            page,
            block: 0,
            bbox: BBox::new(10.0, 10.0, 100.0, 20.0),
        }],
    }
}

/// A unit vector along axis `i`.
fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v
}

fn row(seq: u32, page: u32, text: &str, dir: usize) -> NewChunk {
    NewChunk {
        chunk: chunk(seq, page, text),
        vector: axis(dir),
        entities: extract(text),
    }
}

fn add_doc(store: &mut EmbeddedStore, path: &str, rows: &[NewChunk], pages: u32) -> i64 {
    let id = store.begin_document(path, "00", 1).unwrap();
    store.add_chunks(id, rows).unwrap();
    store.finish_document(id, pages).unwrap();
    id
}

fn ids(hits: &[(i64, f32)], store: &EmbeddedStore) -> Vec<String> {
    let rowids: Vec<i64> = hits.iter().map(|h| h.0).collect();
    let chunks = store.chunks(&rowids).unwrap();
    rowids
        .iter()
        .filter_map(|r| chunks.iter().find(|c| c.rowid == *r))
        .map(|c| format!("{}:{}", c.document, c.chunk_id))
        .collect()
}

#[test]
fn filters_by_document_pages_and_entity() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_store(dir.path(), "test-model", DIM, true).unwrap();
    add_doc(
        &mut store,
        "/docs/a.pdf",
        &[
            row(0, 0, "Write to jane@example.org about tables.", 0),
            row(1, 4, "Tables hold rows and columns.", 1),
        ],
        5,
    );
    add_doc(
        &mut store,
        "/docs/b.pdf",
        &[row(0, 0, "Tables again, released 2020-04-02.", 0)],
        1,
    );

    let all = store.text_search("tables", 10, &Filter::default()).unwrap();
    assert_eq!(all.len(), 3);
    let only_b = Filter {
        document: Some("b.pdf".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.text_search("tables", 10, &only_b).unwrap(), &store),
        ["/docs/b.pdf:c0"]
    );
    let page5 = Filter {
        pages: Some((5, 5)),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.vector_search(&axis(0), 10, &page5).unwrap(), &store),
        ["/docs/a.pdf:c1"]
    );
    let email = Filter {
        entity: Some("email=jane@example.org".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.vector_search(&axis(1), 10, &email).unwrap(), &store),
        ["/docs/a.pdf:c0"]
    );
    let dates = Filter {
        entity: Some("date".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&store.text_search("tables", 10, &dates).unwrap(), &store),
        ["/docs/b.pdf:c0"]
    );
    // Without a filter, the nearest vector comes first.
    let near = store
        .vector_search(&axis(1), 1, &Filter::default())
        .unwrap();
    assert_eq!(ids(&near, &store), ["/docs/a.pdf:c1"]);
    assert!(near[0].1.abs() < 1e-6, "cosine distance {}", near[0].1);
}

#[test]
fn a_document_left_incomplete_is_removed_on_the_next_open_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = open_store(dir.path(), "test-model", DIM, true).unwrap();
        add_doc(
            &mut store,
            "/docs/kept.pdf",
            &[row(0, 0, "kept words", 0)],
            1,
        );
        let id = store.begin_document("/docs/cut.pdf", "11", 1).unwrap();
        store.add_chunks(id, &[row(0, 0, "cut words", 1)]).unwrap();
        // No finish_document: as if the process died here.
    }
    let reader = open_store(dir.path(), "test-model", DIM, false).unwrap();
    let s = reader.stats().unwrap();
    assert_eq!((s.documents, s.incomplete), (1, 1));
    // Readers never see an incomplete document's chunks.
    assert!(reader
        .text_search("cut", 10, &Filter::default())
        .unwrap()
        .iter()
        .all(|h| reader.chunks(&[h.0]).unwrap().is_empty()));
    drop(reader);

    let store = open_store(dir.path(), "test-model", DIM, true).unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.documents, s.incomplete, s.chunks), (1, 0, 1));
    assert!(store.document("/docs/cut.pdf").unwrap().is_none());
    assert!(store
        .text_search("cut", 10, &Filter::default())
        .unwrap()
        .is_empty());
}

#[test]
fn removing_a_document_removes_its_chunks_vectors_and_entities() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_store(dir.path(), "test-model", DIM, true).unwrap();
    let a = add_doc(
        &mut store,
        "/docs/a.pdf",
        &[row(0, 0, "Mail jane@example.org now.", 0)],
        1,
    );
    add_doc(&mut store, "/docs/b.pdf", &[row(0, 0, "Other text.", 1)], 1);
    store.remove_document(a).unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.documents, s.chunks, s.entities), (1, 1, 0));
    let near = store
        .vector_search(&axis(0), 5, &Filter::default())
        .unwrap();
    assert_eq!(ids(&near, &store), ["/docs/b.pdf:c0"]);
}

#[test]
fn an_index_refuses_another_model() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_store(dir.path(), "model-a", DIM, true).unwrap());
    match open_store(dir.path(), "model-b", 8, true) {
        Err(IndexError::ModelMismatch { index, asked, .. }) => {
            assert_eq!((index.as_str(), asked.as_str()), ("model-a", "model-b"))
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened with another model"),
    }
}
