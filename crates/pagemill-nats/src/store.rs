//! Documents and large answers in the object store.
//!
//! A document is stored once under the SHA-256 of its bytes, in the client's 128 KiB
//! chunks (each chunk a message, far under the server's 1 MiB message limit), so two jobs
//! of one producer on the same file share it and the largest scan never makes a large
//! message. Reading streams the chunks (the client's flow control bounds what is held).

use std::path::{Path, PathBuf};

use async_nats::jetstream::object_store::ObjectStore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::NatsError;

/// A document's name in the store: the SHA-256 of its bytes, hex, and their count.
pub async fn content_key(path: &Path) -> Result<(String, u64), NatsError> {
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| NatsError::io(format!("cannot read {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| NatsError::io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Puts a file under `key` unless an object of that name and size is already there.
/// Returns whether it was uploaded.
pub async fn put_file(
    store: &ObjectStore,
    key: &str,
    size: u64,
    path: &Path,
) -> Result<bool, NatsError> {
    if let Ok(info) = store.info(key).await {
        if !info.deleted && info.size as u64 == size {
            return Ok(false);
        }
    }
    put_path(store, key, path).await?;
    Ok(true)
}

/// Puts a file under `name` (streamed in chunks).
pub async fn put_path(store: &ObjectStore, name: &str, path: &Path) -> Result<(), NatsError> {
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| NatsError::io(format!("cannot read {}", path.display()), e))?;
    store
        .put(name, &mut f)
        .await
        .map_err(|e| NatsError::js(format!("cannot store {}", path.display()), e))?;
    Ok(())
}

/// Writes an object to `path` (through a temporary name beside it, so a half-written
/// file is never taken for the document). The client checks the object's digest.
pub async fn get_file(store: &ObjectStore, key: &str, path: &Path) -> Result<(), NatsError> {
    let mut object = store
        .get(key)
        .await
        .map_err(|e| NatsError::js(format!("cannot fetch the object {key}"), e))?;
    let tmp = partial_name(path);
    let io = |e| NatsError::io(format!("cannot write {}", tmp.display()), e);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut out = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let copied = tokio::io::copy(&mut object, &mut out).await;
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(NatsError::js(format!("cannot fetch the object {key}"), e));
    }
    out.flush().await.map_err(io)?;
    drop(out);
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| NatsError::io(format!("cannot write {}", path.display()), e))
}

/// Puts bytes under `name`.
pub async fn put_bytes(store: &ObjectStore, name: &str, bytes: &[u8]) -> Result<(), NatsError> {
    let mut r = bytes;
    store
        .put(name, &mut r)
        .await
        .map_err(|e| NatsError::js(format!("cannot store the object {name}"), e))?;
    Ok(())
}

/// Reads an object whole.
pub async fn get_bytes(store: &ObjectStore, name: &str) -> Result<Vec<u8>, NatsError> {
    let mut object = store
        .get(name)
        .await
        .map_err(|e| NatsError::js(format!("cannot fetch the object {name}"), e))?;
    let mut out = Vec::new();
    object
        .read_to_end(&mut out)
        .await
        .map_err(|e| NatsError::js(format!("cannot fetch the object {name}"), e))?;
    Ok(out)
}

/// Removes an object (its chunks are purged; a small marker stays until the bucket's
/// age limit). A missing object is not an error.
pub async fn delete(store: &ObjectStore, name: &str) {
    if let Err(e) = store.delete(name).await {
        tracing::debug!(name, "cannot delete the object: {e}");
    }
}

fn partial_name(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}
