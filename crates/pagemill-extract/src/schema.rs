//! Answers checked against the user's JSON Schema.

use serde_json::Value;

/// A compiled schema.
pub struct Schema {
    raw: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema").field("raw", &self.raw).finish()
    }
}

/// Most validation errors quoted back to the model or recorded: the first few say what
/// to fix; a hundred would drown the prompt.
const ERRORS_QUOTED: usize = 5;

impl Schema {
    /// Compiles `raw`; the message says what is wrong with it.
    pub fn new(raw: Value) -> Result<Schema, String> {
        let validator = jsonschema::validator_for(&raw).map_err(|e| e.to_string())?;
        Ok(Schema { raw, validator })
    }

    /// The schema as given (sent to the endpoint as `response_format`).
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The answer as JSON when it parses and matches; else why not, in words a model
    /// (and a person) can act on.
    pub fn check(&self, answer: &str) -> Result<Value, String> {
        let value = parse_answer(answer)?;
        let errors: Vec<String> = self
            .validator
            .iter_errors(&value)
            .take(ERRORS_QUOTED)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at {at}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(format!("does not match the schema: {}", errors.join("; ")))
        }
    }
}

/// The JSON in an answer: the whole text, or the first fenced or braced JSON in it (small
/// models wrap JSON in prose or ```json fences even when asked not to).
pub fn parse_answer(answer: &str) -> Result<Value, String> {
    let t = answer.trim();
    if let Ok(v) = serde_json::from_str(t) {
        return Ok(v);
    }
    let unfenced = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.trim_end().strip_suffix("```"));
    if let Some(inner) = unfenced {
        if let Ok(v) = serde_json::from_str(inner.trim()) {
            return Ok(v);
        }
    }
    if let (Some(a), Some(b)) = (t.find('{'), t.rfind('}')) {
        if a < b {
            if let Ok(v) = serde_json::from_str(&t[a..=b]) {
                return Ok(v);
            }
        }
    }
    Err(match serde_json::from_str::<Value>(t) {
        Err(e) => format!("is not valid JSON ({e})"),
        Ok(_) => "is not valid JSON".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(json!({
            "type": "object",
            "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
            "required": ["title", "count"],
            "additionalProperties": false
        }))
        .unwrap()
    }

    #[test]
    fn a_matching_answer_passes_and_fenced_json_is_found() {
        let s = schema();
        assert_eq!(s.check(r#"{"title":"a","count":2}"#).unwrap()["count"], 2);
        assert!(s
            .check("```json\n{\"title\":\"a\",\"count\":2}\n```")
            .is_ok());
        assert!(s
            .check("Here it is: {\"title\":\"a\",\"count\":2} done")
            .is_ok());
    }

    #[test]
    fn mismatches_say_where_and_what() {
        let s = schema();
        let e = s.check(r#"{"title":"a","count":"two"}"#).unwrap_err();
        assert!(e.contains("/count") && e.contains("integer"), "{e}");
        let e = s.check(r#"{"title":"a"}"#).unwrap_err();
        assert!(e.contains("count"), "{e}");
        let e = s.check("no json here").unwrap_err();
        assert!(e.starts_with("is not valid JSON"), "{e}");
    }

    #[test]
    fn a_broken_schema_is_refused() {
        assert!(Schema::new(json!({"type": "no-such-type"})).is_err());
    }
}
