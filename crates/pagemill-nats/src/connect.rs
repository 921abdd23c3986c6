//! Connecting: the server's address, credentials and TLS.
//!
//! Secrets never come from a URL or a command line (both show in `ps` and shell history;
//! the client also ignores credentials inside a URL): the caller reads them from files or
//! the environment into [`Credentials`], whose `Debug` shows no secret.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions};

use crate::names::Names;
use crate::NatsError;

/// How to authenticate.
#[derive(Clone, Default)]
pub enum Credentials {
    /// None (a server without authorization).
    #[default]
    None,
    /// A user and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// An nkey seed (`SU…`); the server knows the public key.
    NKeySeed(String),
    /// A creds file (a user JWT and its nkey seed, for decentralised auth).
    CredsFile(PathBuf),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => write!(f, "none"),
            Credentials::UserPassword { user, .. } => write!(f, "user {user:?} with a password"),
            Credentials::Token(_) => write!(f, "a token"),
            Credentials::NKeySeed(_) => write!(f, "an nkey seed"),
            Credentials::CredsFile(p) => write!(f, "creds file {}", p.display()),
        }
    }
}

/// Reads a secret from a file, trimmed of surrounding white space (a trailing newline).
pub fn read_secret(path: &std::path::Path) -> Result<String, NatsError> {
    let s = std::fs::read_to_string(path).map_err(|source| NatsError::File {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(s.trim().to_string())
}

/// Everything needed to reach the server and name things on it.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// Server address(es), comma-separated: `nats://host:4222`, `tls://host:4222`.
    pub url: String,
    /// Subjects, streams and buckets are named under this prefix.
    pub names: Names,
    /// How to authenticate.
    pub credentials: Credentials,
    /// A CA certificate (PEM) to trust instead of the system's roots; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// How long a delivered task may go without an acknowledgement (or an in-progress
    /// one) before the server gives it to another worker host.
    pub ack_wait: Duration,
    /// Deliveries of a task before it is given up as a poison page.
    pub max_deliver: i64,
    /// How long tasks, answers and documents may stay on the server when nobody removes
    /// them (a producer that died).
    pub max_age: Duration,
}

impl NatsOptions {
    /// Options for `url` with the defaults: prefix `pagemill`, no credentials, ack wait
    /// 30 s, 3 deliveries, one day.
    pub fn new(url: impl Into<String>) -> Self {
        NatsOptions {
            url: url.into(),
            names: Names::new("pagemill").expect("a valid prefix"),
            credentials: Credentials::None,
            tls_ca: None,
            tls_client: None,
            ack_wait: Duration::from_secs(30),
            max_deliver: 3,
            max_age: Duration::from_secs(24 * 3600),
        }
    }

    /// The URL without any user information (for messages).
    pub fn display_url(&self) -> String {
        self.url
            .split(',')
            .map(|u| match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}{}", &u[..s + 3], &u[at + 1..]),
                _ => u.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Connects, as `name` (shown in the server's monitoring), and checks JetStream is on.
    pub async fn connect(&self, name: &str) -> Result<Client, NatsError> {
        let url = self.display_url();
        if self.url.contains('@') {
            return Err(NatsError::Connect {
                url,
                message: "credentials inside the URL are not used: give them from a file or \
                          the environment instead"
                    .into(),
            });
        }
        let mut o = ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            // Reconnects go on for as long as the process runs: a server restart must
            // not end a job (its streams are on disk).
            .max_reconnects(None);
        o = match &self.credentials {
            Credentials::None => o,
            Credentials::UserPassword { user, password } => {
                o.user_and_password(user.clone(), password.clone())
            }
            Credentials::Token(t) => o.token(t.clone()),
            Credentials::NKeySeed(seed) => o.nkey(seed.clone()),
            Credentials::CredsFile(p) => {
                o.credentials_file(p)
                    .await
                    .map_err(|source| NatsError::File {
                        path: p.clone(),
                        source,
                    })?
            }
        };
        if let Some(ca) = &self.tls_ca {
            o = o.require_tls(true).add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        let addrs: Vec<&str> = self.url.split(',').map(str::trim).collect();
        let client = o.connect(addrs).await.map_err(|e| {
            let message = e.to_string();
            if matches!(
                e.kind(),
                async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication
            ) {
                NatsError::Refused {
                    url: url.clone(),
                    message,
                }
            } else {
                NatsError::Connect {
                    url: url.clone(),
                    message,
                }
            }
        })?;
        if !client.server_info().jetstream {
            return Err(NatsError::NoJetStream { url });
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Credentials::UserPassword {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Token("t0k".into())).contains("t0k"));
    }

    #[test]
    fn urls_are_shown_without_user_information() {
        let o = NatsOptions::new("nats://u:p@host:4222,tls://h2:4222");
        assert_eq!(o.display_url(), "nats://host:4222,tls://h2:4222");
    }
}
