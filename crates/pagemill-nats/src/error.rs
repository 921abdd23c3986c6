//! The crate's error type.

use std::path::PathBuf;

/// Why talking to NATS failed.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// No connection could be made.
    #[error("cannot connect to the NATS server at {url}: {message}")]
    Connect {
        /// The server's address.
        url: String,
        /// Why.
        message: String,
    },
    /// The server refused the credentials given (or none were given and it wants some).
    #[error(
        "the NATS server at {url} refused the connection ({message}): give the credentials it \
         expects (a user and password, a token, an nkey seed or a creds file)"
    )]
    Refused {
        /// The server's address.
        url: String,
        /// The server's words.
        message: String,
    },
    /// The server runs without JetStream.
    #[error(
        "the NATS server at {url} has no JetStream: start it with `-js` (or a `jetstream {{}}` \
         block in its configuration)"
    )]
    NoJetStream {
        /// The server's address.
        url: String,
    },
    /// A credentials or certificate file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A JetStream request (stream, consumer, object store) failed.
    #[error("NATS JetStream: {what}: {message}")]
    JetStream {
        /// What was being done.
        what: String,
        /// The server's or client's words.
        message: String,
    },
    /// Local I/O failed (the document cache, a worker process).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl NatsError {
    /// A JetStream failure while doing `what`.
    pub(crate) fn js(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        NatsError::JetStream {
            what: what.into(),
            message: e.to_string(),
        }
    }

    /// A local I/O failure while doing `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        NatsError::Io {
            what: what.into(),
            source,
        }
    }
}
