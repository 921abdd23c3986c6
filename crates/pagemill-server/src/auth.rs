//! API keys: a file of `NAME:SHA256` lines (the keys themselves are never stored), keys
//! sent as `Authorization: Bearer KEY`, and each key seeing only its own jobs.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::ApiError;
use crate::App;

/// An API key file problem.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("API key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `NAME:SHA256`.
    #[error("API key file {path}, line {line}: expected NAME:SHA256 (64 hex digits)")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
    /// The name is taken or unusable.
    #[error(
        "key name `{0}`: use letters, digits, `-` and `_`, and a name not already in the file"
    )]
    BadName(String),
    /// No randomness from the operating system.
    #[error("cannot draw a random key: {0}")]
    Random(String),
}

/// Who made a request: the name of its API key (`""` when the service has no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

/// The keys a service accepts, by the hex SHA-256 of the key.
#[derive(Debug, Default, Clone)]
pub struct ApiKeys {
    by_hash: HashMap<String, String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `name` may name a key or an index (and so a directory): 1 to 64 ASCII
/// letters, digits, `-` or `_`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl ApiKeys {
    /// Reads `path` (`NAME:SHA256` lines; blank lines and `#` comments skipped). A missing
    /// file is an empty set.
    pub fn load(path: &Path) -> Result<ApiKeys, KeyError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(KeyError::Io {
                    path: shown,
                    source,
                })
            }
        };
        let mut by_hash = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = || KeyError::Malformed {
                path: shown.clone(),
                line: i + 1,
            };
            let (name, hash) = line.split_once(':').ok_or_else(malformed)?;
            let hash = hash.trim().to_ascii_lowercase();
            if !valid_name(name.trim())
                || hash.len() != 64
                || !hash.chars().all(|c| c.is_ascii_hexdigit())
            {
                return Err(malformed());
            }
            by_hash.insert(hash, name.trim().to_string());
        }
        Ok(ApiKeys { by_hash })
    }

    /// Whether any key is set (requests then need one).
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The name of `key`, if it is one of these.
    pub fn owner_of(&self, key: &str) -> Option<&str> {
        self.by_hash
            .get(&sha256_hex(key.as_bytes()))
            .map(String::as_str)
    }

    /// Draws a new key for `name`, appends its hash to `path` and returns the key (shown
    /// once: only its hash is kept).
    pub fn add(path: &Path, name: &str) -> Result<String, KeyError> {
        let keys = ApiKeys::load(path)?;
        if !valid_name(name) || keys.by_hash.values().any(|n| n == name) {
            return Err(KeyError::BadName(name.to_string()));
        }
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| KeyError::Random(e.to_string()))?;
        let key: String = format!(
            "pm_{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        writeln!(file, "{name}:{}", sha256_hex(key.as_bytes())).map_err(io)?;
        Ok(key)
    }
}

/// Middleware: finds the request's [`Owner`] from its bearer key (401 without a valid
/// one, when the service has keys) and hands it to the handlers.
pub async fn require_key(
    State(app): State<App>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let owner = if app.keys.is_empty() {
        String::new()
    } else {
        let key = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match key.and_then(|k| app.keys.owner_of(k)) {
            Some(name) => name.to_string(),
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send an API key as `Authorization: Bearer KEY` (the operator makes one with `pagemill serve keys add NAME`)",
                ))
            }
        }
    };
    req.extensions_mut().insert(Owner(owner));
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_found_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let a = ApiKeys::add(&path, "alice").unwrap();
        let b = ApiKeys::add(&path, "bob").unwrap();
        assert_ne!(a, b);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&a) && !text.contains(&b),
            "keys are not stored"
        );
        let keys = ApiKeys::load(&path).unwrap();
        assert_eq!(keys.owner_of(&a), Some("alice"));
        assert_eq!(keys.owner_of(&b), Some("bob"));
        assert_eq!(keys.owner_of("pm_guess"), None);
        assert!(ApiKeys::add(&path, "alice").is_err(), "names are unique");
        assert!(ApiKeys::add(&path, "a b").is_err());
    }

    #[test]
    fn malformed_files_say_which_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "# comment\n\nalice:1234\n").unwrap();
        let e = ApiKeys::load(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(ApiKeys::load(&dir.path().join("none")).unwrap().is_empty());
    }
}
