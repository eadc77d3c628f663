//! A replay store in Redis, shared by every instance of an API: one `SET NX PX` per proof.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, Client, Value};

use super::replay::{ReplayStore, ReplayStoreError};

/// The longest expiry sent: a century, in milliseconds (Redis refuses one that overflows).
const MAX_TTL_MILLIS: u64 = 100 * 365 * 86_400 * 1000;

/// The replay store of an API run as several instances: each proof's key is set in Redis with
/// `SET <prefix><hex key> 1 NX PX <ttl>`, so a proof accepted by one instance is refused as a
/// replay by every other one that shares the server. Behind the `redis` feature.
///
/// Each call is one command on a multiplexed connection that reconnects by itself after the
/// server went away (redis's `ConnectionManager`; one connection carries concurrent calls, so no
/// pool is needed). A call that fails, or gets no answer within the
/// [timeout](RedisReplayStoreBuilder::timeout) (500 ms by default), is a [`ReplayStoreError`]:
/// the request is refused with 503, never accepted. Error messages never hold the URL's
/// password.
///
/// Keys expire in Redis with their ttl (rounded up to whole milliseconds), so the server holds
/// exactly one key per proof accepted within a proof window, and refuses each one's replay for
/// its whole ttl. Redis must never evict them: a server with a memory limit (`maxmemory`) must
/// have the `noeviction` policy, under which a full server answers `SET` with an error, and the
/// request gets 503 (the store fails closed). Every other policy evicts these keys when memory
/// runs short (the `volatile-*` ones too: each of these keys has an expiry), which would let the
/// replay of an evicted proof pass: [`connect`](RedisReplayStoreBuilder::connect) refuses such a
/// server. Give it room for the proofs of one window (about 120 bytes each).
///
/// It needs a tokio runtime with its time driver (as `#[tokio::main]` builds), for the timeout.
///
/// ```no_run
/// use std::time::Duration;
/// use portcullis::dpop::{RedisReplayStore, ReplayStore};
///
/// # async fn run() -> Result<(), portcullis::dpop::ReplayStoreError> {
/// let store = RedisReplayStore::connect("redis://:password@redis.internal:6379/0").await?;
/// let shared = RedisReplayStore::builder()
///     .key_prefix("documents-api:dpop:")
///     .timeout(Duration::from_millis(200))
///     .connect("redis://redis.internal:6379")
///     .await?;
/// assert!(shared.remember([7; 32], Duration::from_secs(120)).await?); // new
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// Host and port (or socket path) and database, without credentials: for `Debug`.
    server: String,
    /// The URL's password as written and as decoded, removed from every error message.
    secrets: Vec<String>,
}

/// How a [`RedisReplayStore`] is set up, from [`RedisReplayStore::builder`].
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisReplayStoreBuilder {
    prefix: String,
    timeout: Duration,
}

impl RedisReplayStore {
    /// The prefix of every key the store sets: `portcullis:dpop:`.
    pub const DEFAULT_KEY_PREFIX: &str = "portcullis:dpop:";

    /// How long connecting, and each call, may take at most: 500 ms.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

    /// A store on the server of `url` (`redis://[[user]:password@]host[:port][/db]`, or
    /// `redis+unix:///path`), with the default key prefix and timeout.
    ///
    /// # Errors
    ///
    /// The URL does not parse, or no connection to the server is made within the timeout.
    pub async fn connect(url: &str) -> Result<Self, ReplayStoreError> {
        Self::builder().connect(url).await
    }

    /// Sets the key prefix and the timeout before connecting.
    pub fn builder() -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The key set in Redis for `key`: the prefix, then `key` in lowercase hex.
    fn redis_key(&self, key: &[u8; 32]) -> String {
        use std::fmt::Write;
        let mut name = String::with_capacity(self.prefix.len() + 64);
        name.push_str(&self.prefix);
        for byte in key {
            // Writing to a `String` cannot fail.
            let _ = write!(name, "{byte:02x}");
        }
        name
    }

    fn error(&self, what: &str, error: &redis::RedisError) -> ReplayStoreError {
        ReplayStoreError(redact(&format!("{what} ({}): {error}", self.server), &self.secrets))
    }
}

impl RedisReplayStoreBuilder {
    /// The prefix of every key the store sets (default `portcullis:dpop:`); give the APIs that
    /// share one server each their own, or one API's proofs are replays to another.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting, and each call, may take at most (default 500 ms): past it, the call
    /// is a [`ReplayStoreError`]. Keep it well under the API's own request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects to the server of `url` (see [`RedisReplayStore::connect`]).
    ///
    /// # Errors
    ///
    /// The URL does not parse, no connection to the server is made within the timeout, or the
    /// server has a memory limit with an eviction policy other than `noeviction` (it could evict
    /// a live key, and let a replay pass). A server that does not answer `CONFIG GET` (managed
    /// services often rename it) is used, with a warning that its policy could not be checked.
    pub async fn connect(self, url: &str) -> Result<RedisReplayStore, ReplayStoreError> {
        let mut secrets: Vec<String> = url_password(url).into_iter().map(str::to_owned).collect();
        let client = Client::open(url).map_err(|error| {
            ReplayStoreError(redact(&format!("invalid Redis URL: {error}"), &secrets))
        })?;
        let info = client.get_connection_info();
        secrets.extend(info.redis_settings().password().map(str::to_owned));
        secrets.retain(|secret| !secret.is_empty());
        let server = format!("redis at {}, db {}", info.addr(), info.redis_settings().db());
        // The connection manager retries its first connection too, so that a refused
        // connection or password would only show as a timeout: one plain connection first
        // says what is wrong.
        let probe = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        within(self.timeout, &server, &secrets, async {
            client.get_multiplexed_async_connection_with_config(&probe).await.map(drop)
        })
        .await?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(Duration::from_secs(1));
        let connecting = ConnectionManager::new_with_config(client, config);
        let mut connection = within(self.timeout, &server, &secrets, connecting).await?;
        refuse_evicting_server(&mut connection, self.timeout, &server).await?;
        Ok(RedisReplayStore {
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
            server,
            secrets,
        })
    }
}

impl ReplayStore for RedisReplayStore {
    fn remember(
        &self,
        key: [u8; 32],
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + '_>> {
        let mut command = redis::cmd("SET");
        command.arg(self.redis_key(&key)).arg(1).arg("NX").arg("PX").arg(ttl_millis(ttl));
        let mut connection = self.connection.clone();
        Box::pin(async move {
            let set = command.query_async::<Value>(&mut connection);
            match tokio::time::timeout(self.timeout, set).await {
                Ok(Ok(Value::Okay)) => Ok(true),
                Ok(Ok(Value::SimpleString(ok))) if ok == "OK" => Ok(true),
                Ok(Ok(Value::Nil)) => Ok(false),
                Ok(Ok(other)) => Err(ReplayStoreError(format!(
                    "unexpected answer from {} to SET NX: {other:?}",
                    self.server
                ))),
                Ok(Err(error)) => Err(self.error("SET NX failed", &error)),
                Err(_) => Err(ReplayStoreError(format!(
                    "no answer from {} within {:?}",
                    self.server, self.timeout
                ))),
            }
        })
    }
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An error if `server` may evict keys: a memory limit with a policy other than `noeviction`.
async fn refuse_evicting_server(
    connection: &mut ConnectionManager,
    timeout: Duration,
    server: &str,
) -> Result<(), ReplayStoreError> {
    let mut command = redis::cmd("CONFIG");
    command.arg("GET").arg("maxmemory*");
    let answer =
        tokio::time::timeout(timeout, command.query_async::<Vec<String>>(connection)).await;
    let Ok(Ok(settings)) = answer else {
        tracing::warn!(
            target: "portcullis::dpop",
            "{server} does not answer CONFIG GET: make sure its maxmemory-policy is noeviction, \
             or an evicted key lets a DPoP proof be replayed"
        );
        return Ok(());
    };
    let setting = |name: &str| {
        settings.chunks_exact(2).find(|pair| pair[0] == name).map(|pair| pair[1].as_str())
    };
    let limited = setting("maxmemory").is_some_and(|limit| limit != "0");
    match setting("maxmemory-policy") {
        Some(policy) if limited && policy != "noeviction" => Err(ReplayStoreError(format!(
            "{server} may evict keys (maxmemory-policy {policy} with a memory limit), which would \
             let an evicted DPoP proof be replayed: use maxmemory-policy noeviction"
        ))),
        _ => Ok(()),
    }
}

/// The connection `connecting` makes to `server` within `timeout`, or why there is none.
async fn within<T>(
    timeout: Duration,
    server: &str,
    secrets: &[String],
    connecting: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, ReplayStoreError> {
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(error)) => Err(ReplayStoreError(redact(
            &format!("could not connect to {server}: {error}"),
            secrets,
        ))),
        Err(_) => Err(ReplayStoreError(format!("no connection to {server} within {timeout:?}"))),
    }
}

/// `ttl` in whole milliseconds, rounded up: at least 1 (Redis refuses 0), at most a century.
fn ttl_millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX).clamp(1, MAX_TTL_MILLIS)
}

/// The password in `url`'s user information, as written (percent-encoded or not); the whole
/// user information when it has no `:`, which some clients read as a password.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(userinfo.split_once(':').map_or(userinfo, |(_, password)| password))
}

/// `message` with each of `secrets` replaced by `***`.
fn redact(message: &str, secrets: &[String]) -> String {
    secrets.iter().fold(message.to_owned(), |message, secret| message.replace(secret, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_milliseconds_rounded_up() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(100_500)), 101);
        assert_eq!(ttl_millis(Duration::from_secs(120)), 120_000);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MILLIS);
    }

    #[test]
    fn the_password_is_found_in_the_url() {
        assert_eq!(url_password("redis://:s3cret@host:6379/0"), Some("s3cret"));
        assert_eq!(url_password("redis://user:p%40ss@host"), Some("p%40ss"));
        assert_eq!(url_password("redis://token@host"), Some("token"));
        assert_eq!(url_password("redis://host:6379/0"), None);
        assert_eq!(url_password("redis://host/a@b"), None);
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn secrets_are_redacted() {
        let secrets = ["p%40ss".to_owned(), "p@ss".to_owned()];
        assert_eq!(redact("AUTH p@ss / p%40ss failed", &secrets), "AUTH *** / *** failed");
    }
}
