//! The service's search indexes: upload → convert → index as a job with events, search,
//! list, delete, and each API key's indexes kept apart.

mod common;

use common::data;
use common::server::{add_key, client, Server};
use reqwest::blocking::multipart;
use reqwest::StatusCode;
use serde_json::Value;

/// Uploads `file` (pages `pages`) into index `name` with `key`; waits for the job's end
/// through its event stream and returns the job's last state event.
fn index(s: &Server, key: &str, name: &str, file: &str, pages: &str) -> Value {
    let form = multipart::Form::new()
        .file("file", data(file))
        .unwrap()
        .text("pages", pages.to_string());
    let res = client()
        .post(s.url(&format!("/v1/indexes/{name}/documents")))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().unwrap();
    let id = job["id"].as_str().unwrap();
    let res = client()
        .get(s.url(&format!("/v1/jobs/{id}/events")))
        .bearer_auth(key)
        .send()
        .unwrap();
    let text = res.text().unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "page"),
        "page events stream while indexing: {text}"
    );
    events
        .iter()
        .rev()
        .find(|e| e["event"] == "state")
        .cloned()
        .unwrap()
}

fn get(s: &Server, key: &str, path: &str) -> (StatusCode, Value) {
    let res = client().get(s.url(path)).bearer_auth(key).send().unwrap();
    let status = res.status();
    (status, res.json().unwrap_or(Value::Null))
}

#[test]
fn an_index_is_built_by_upload_searched_and_emptied_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = (add_key(&keys, "alice"), add_key(&keys, "bob"));
    let s = Server::start(
        &dir.path().join("data"),
        &["--api-keys", keys.to_str().unwrap()],
    );

    let end = index(&s, &alice, "manuals", "camlidl-manual.pdf", "1-12");
    assert_eq!(end["state"], "succeeded", "{end}");

    let (status, docs) = get(&s, &alice, "/v1/indexes/manuals/documents");
    assert_eq!(status, StatusCode::OK);
    let doc = &docs["documents"][0];
    assert_eq!(doc["name"], "camlidl-manual.pdf");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["pages"], 12);
    assert!(doc["chunks"].as_u64().unwrap() > 5, "{docs}");

    let q = "/v1/indexes/manuals/search?q=how%20are%20pointers%20to%20arrays%20declared&k=3";
    let (status, found) = get(&s, &alice, q);
    assert_eq!(status, StatusCode::OK, "{found}");
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(found["mode"], "hybrid");
    for h in hits {
        assert_eq!(h["document"], "camlidl-manual.pdf");
        assert!(h["first_page"].as_u64().unwrap() >= 1 && h["last_page"].as_u64().unwrap() <= 12);
        assert!(!h["sources"].as_array().unwrap().is_empty());
    }
    let all_text: String = hits.iter().map(|h| h["text"].as_str().unwrap()).collect();
    assert!(all_text.to_lowercase().contains("pointer"), "{all_text}");
    let (_, bm25) = get(&s, &alice, &format!("{q}&mode=bm25&pages=1-3"));
    assert!(!bm25["hits"].as_array().unwrap().is_empty());
    for h in bm25["hits"].as_array().unwrap() {
        // Chunks that overlap the pages asked for.
        assert!(h["first_page"].as_u64().unwrap() <= 3, "{h}");
    }

    // Bob has no index of that name; his own of the same name is another index.
    let (status, _) = get(&s, &bob, q);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&s, &bob, "/v1/indexes/manuals/documents");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = client()
        .delete(s.url("/v1/indexes/manuals/documents/camlidl-manual.pdf"))
        .bearer_auth(&bob)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Bad requests are named.
    let (status, e) = get(&s, &alice, "/v1/indexes/manuals/search?q=%20");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let (status, _) = get(&s, &alice, "/v1/indexes/manuals/search?q=x&mode=fuzzy");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let res = client()
        .post(s.url("/v1/indexes/bad.name/documents?filename=a.pdf"))
        .bearer_auth(&alice)
        .body("x")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The index option cannot be smuggled into an ordinary job.
    let res = client()
        .post(s.url("/v1/jobs?index=manuals&filename=a.pdf"))
        .bearer_auth(&bob)
        .body("x")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Alice removes her document: it is gone from the list and from searches.
    let res = client()
        .delete(s.url("/v1/indexes/manuals/documents/camlidl-manual.pdf"))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, docs) = get(&s, &alice, "/v1/indexes/manuals/documents");
    assert_eq!(docs["documents"].as_array().unwrap().len(), 0);
    let (_, found) = get(&s, &alice, q);
    assert_eq!(found["hits"].as_array().unwrap().len(), 0);
    let res = client()
        .delete(s.url("/v1/indexes/manuals/documents/camlidl-manual.pdf"))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
