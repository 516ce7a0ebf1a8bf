//! Response caching (design.md section 7): unary reads only, keyed by the method and the
//! decoded input message (so REST, GraphQL and gRPC calls for the same data share entries),
//! plus the consumer unless the mapping's cache is public. Memory (moka, bounded by bytes)
//! first, Redis as a shared second level. Honours `Cache-Control` (`no-store`, `private`,
//! `max-age`, `s-maxage`) and `Vary` of the reply, never stores a reply that sets a cookie;
//! concurrent misses for one key make one backend call; stale-while-revalidate and
//! stale-if-error as options. Answers carry `X-Cache-Status` and `Age`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use prost::Message as _;
use prost_reflect::MessageDescriptor;
use serde::{Deserialize, Serialize};

use crate::call::{Call, Message, Reply};
use crate::status::Status;

/// A stored reply: its metadata, its one message (wire form), when it was stored, how long it
/// is fresh, and the request headers it varies on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    metadata: Vec<(String, String)>,
    #[serde(with = "base64_bytes")]
    message: Vec<u8>,
    /// Seconds since the epoch (shared with other instances through Redis).
    stored_at: f64,
    fresh_for: f64,
    vary: Vec<(String, String)>,
    /// The reply said `public` or `s-maxage`: any caller may be served it, credentials or
    /// not (RFC 9111 section 3.5).
    #[serde(default)]
    public: bool,
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Entry {
    fn age(&self) -> f64 {
        (now() - self.stored_at).max(0.0)
    }

    fn varies_from(&self, headers: &HeaderMap) -> bool {
        self.vary.iter().any(|(name, value)| {
            headers
                .get(name.as_str())
                .map_or("", |v| v.to_str().unwrap_or(""))
                != value
        })
    }

    fn reply(&self, output: &MessageDescriptor, status: &'static str) -> Reply {
        let mut metadata = HeaderMap::new();
        for (name, value) in &self.metadata {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                metadata.append(name, value);
            }
        }
        metadata.insert(CACHE_STATUS, HeaderValue::from_static(status));
        metadata.insert(
            http::header::AGE,
            HeaderValue::from(self.age().floor() as u64),
        );
        let message = Message::Encoded(output.clone(), Bytes::from(self.message.clone()));
        Reply {
            metadata,
            messages: futures::stream::once(async move { Ok(message) }).boxed(),
        }
    }
}

/// A miss being filled, awaited by every request for its key.
type Filling = Shared<BoxFuture<'static, Result<Arc<Entry>, Status>>>;

pub(crate) const CACHE_STATUS: HeaderName = HeaderName::from_static("x-cache-status");

/// Why a purge did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The in-memory cache refused the predicate (moka's invalidation support is off).
    #[error("{0}")]
    Memory(String),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// The gateway's cache: memory, and Redis when configured.
pub struct Store {
    memory: moka::sync::Cache<String, Arc<Entry>>,
    redis: Option<(
        redis::Client,
        tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    )>,
    /// Misses being filled: later requests for the same key wait for the first.
    inflight: Mutex<HashMap<String, Filling>>,
}

impl Store {
    pub fn new(bytes: u64, redis: Option<redis::Client>) -> Store {
        Store {
            memory: moka::sync::Cache::builder()
                .weigher(|key: &String, entry: &Arc<Entry>| {
                    let size = key.len() + entry.message.len() + 64;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .max_capacity(bytes)
                // Entries past every use (fresh and stale) go; a day bounds what is left.
                .time_to_live(Duration::from_secs(86_400))
                .support_invalidation_closures()
                .build(),
            redis: redis.map(|client| (client, tokio::sync::OnceCell::new())),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    async fn redis(&self) -> Option<redis::aio::ConnectionManager> {
        let (client, cell) = self.redis.as_ref()?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        cell.get_or_try_init(|| {
            redis::aio::ConnectionManager::new_with_config(client.clone(), config)
        })
        .await
        .ok()
        .cloned()
    }

    async fn get(&self, key: &str) -> Option<Arc<Entry>> {
        if let Some(entry) = self.memory.get(key) {
            return Some(entry);
        }
        let mut redis = self.redis().await?;
        let text: Option<String> = redis::cmd("GET")
            .arg(redis_key(key))
            .query_async(&mut redis)
            .await
            .ok()?;
        let entry: Arc<Entry> = Arc::new(serde_json::from_str(&text?).ok()?);
        self.memory.insert(key.to_owned(), entry.clone());
        Some(entry)
    }

    async fn put(&self, key: String, entry: Arc<Entry>, keep: Duration) {
        if let Some(mut redis) = self.redis().await {
            if let Ok(text) = serde_json::to_string(&*entry) {
                let stored: Result<(), _> = redis::cmd("SET")
                    .arg(redis_key(&key))
                    .arg(text)
                    .arg("PX")
                    .arg(keep.as_millis().max(1) as u64)
                    .query_async(&mut redis)
                    .await;
                if let Err(e) = stored {
                    tracing::warn!(error = %e, "cannot store in the Redis cache");
                }
            }
        }
        self.memory.insert(key, entry);
    }

    /// Forgets the entries of `method` (every method when `None`), or the one `key`.
    pub async fn purge(&self, method: Option<&str>, key: Option<&str>) -> Result<(), PurgeError> {
        let prefix = method.map(|m| format!("{m}|"));
        match (key, &prefix) {
            (Some(key), _) => self.memory.invalidate(key),
            (None, Some(prefix)) => {
                let prefix = prefix.clone();
                self.memory
                    .invalidate_entries_if(move |k, _| k.starts_with(&prefix))
                    .map_err(|e| PurgeError::Memory(e.to_string()))?;
            }
            (None, None) => self.memory.invalidate_all(),
        }
        let Some(mut redis) = self.redis().await else {
            return Ok(());
        };
        let pattern = match (key, &prefix) {
            (Some(key), _) => redis_key(key),
            (None, Some(prefix)) => format!("{}*", redis_key(prefix)),
            (None, None) => format!("{}*", redis_key("")),
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut redis)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(keys).query_async(&mut redis).await?;
        }
        Ok(())
    }
}

fn redis_key(key: &str) -> String {
    format!("rosetta:cache:{key}")
}

/// A mapping's cache settings.
pub(crate) struct CacheStage {
    pub store: Arc<Store>,
    pub ttl: Duration,
    /// Methods (full names) whose replies are cached.
    pub methods: std::collections::HashSet<String>,
    /// Entries shared by every consumer and every caller's credentials.
    pub public: bool,
    /// Request headers that carry credentials (sorted): a call with one has entries of its
    /// own unless the reply is explicitly public.
    pub credential_headers: Vec<HeaderName>,
    /// Query parameters that carry credentials (API keys), likewise.
    pub credential_query: Vec<String>,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

/// Why a call is not looked up.
fn bypass(headers: &HeaderMap) -> bool {
    let directives = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    directives
        .iter()
        .any(|d| d == "no-store" || d == "no-cache")
}

/// What a reply's `Cache-Control` lets a cache do with it.
#[derive(Debug, PartialEq)]
enum Storable {
    /// Not at all.
    No,
    /// For this long, in the entry of the caller's consumer or credentials, or the shared one
    /// when the call has neither.
    For(Duration),
    /// For this long, in the shared entry, whatever the caller's credentials (`public`,
    /// `s-maxage`).
    Public(Duration),
    /// For this long, but only in an entry of the caller's own (`private`).
    Private(Duration),
}

/// How a reply may be kept, by its `Cache-Control`; `ttl` bounds every freshness.
fn storable(metadata: &HeaderMap, ttl: Duration) -> Storable {
    if metadata.contains_key(http::header::SET_COOKIE) {
        return Storable::No;
    }
    let mut fresh = ttl;
    let mut shared_max_age = None;
    let (mut public, mut private) = (false, false);
    for directive in metadata
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let directive = directive.trim().to_ascii_lowercase();
        match directive.split_once('=') {
            None if directive == "no-store" || directive == "no-cache" => return Storable::No,
            None if directive == "private" => private = true,
            None if directive == "public" => public = true,
            Some(("private", _)) => private = true,
            Some(("max-age", n)) => match n.trim_matches('"').parse() {
                Ok(n) => fresh = fresh.min(Duration::from_secs(n)),
                Err(_) => return Storable::No,
            },
            Some(("s-maxage", n)) => match n.trim_matches('"').parse() {
                Ok(n) => shared_max_age = Some(Duration::from_secs(n)),
                Err(_) => return Storable::No,
            },
            _ => {}
        }
    }
    let fresh = match shared_max_age {
        Some(shared) if !private => shared.min(ttl),
        _ => fresh,
    };
    if fresh.is_zero() {
        Storable::No
    } else if private {
        Storable::Private(fresh)
    } else if public || shared_max_age.is_some() {
        Storable::Public(fresh)
    } else {
        Storable::For(fresh)
    }
}

/// Where the entry of a call may be.
struct Keys {
    /// The entry every caller may be served.
    shared: String,
    /// The entry of the caller's consumer or credentials: when the call has either and the
    /// cache is not public.
    own: Option<String>,
}

impl Keys {
    /// The key misses are filled under (one backend call at a time per key).
    fn filling(&self) -> &str {
        self.own.as_deref().unwrap_or(&self.shared)
    }
}

impl CacheStage {
    fn keys(&self, call: &Call, input: &[u8]) -> Keys {
        let method = call.operation.method.full_name();
        let hex =
            |digest: [u8; 32]| -> String { digest.iter().map(|b| format!("{b:02x}")).collect() };
        let input = hex(super::auth::digest(input));
        let own = if self.public {
            None
        } else if let Some(consumer) = &call.consumer {
            Some(format!("consumer:{}", consumer.id))
        } else {
            self.credentials(call)
                .map(|d| format!("credentials:{}", hex(d)))
        };
        Keys {
            shared: format!("{method}||{input}"),
            own: own.map(|own| format!("{method}|{own}|{input}")),
        }
    }

    /// A digest of the credentials the call carries, if it carries any.
    fn credentials(&self, call: &Call) -> Option<[u8; 32]> {
        let headers = &call.origin.headers;
        let mut seen = Vec::new();
        for name in &self.credential_headers {
            for value in headers.get_all(name) {
                seen.extend_from_slice(name.as_str().as_bytes());
                seen.push(0);
                seen.extend_from_slice(value.as_bytes());
                seen.push(0);
            }
        }
        if let Some(query) = call
            .origin
            .uri
            .query()
            .filter(|_| !self.credential_query.is_empty())
        {
            for (key, value) in crate::query_string::pairs(query).flatten() {
                if self.credential_query.iter().any(|q| *q == key) {
                    seen.extend_from_slice(b"?");
                    seen.extend_from_slice(key.as_bytes());
                    seen.push(0);
                    seen.extend_from_slice(value.as_bytes());
                    seen.push(0);
                }
            }
        }
        (!seen.is_empty()).then(|| super::auth::digest(&seen))
    }

    /// How long an entry stays after it is fresh (for stale answers).
    fn keep(&self, fresh: Duration) -> Duration {
        fresh + self.stale_while_revalidate.max(self.stale_if_error)
    }
}

impl CacheStage {
    async fn serve<S>(self: Arc<Self>, inner: S, mut call: Call) -> Result<Reply, Status>
    where
        S: tower::Service<Call, Response = Reply, Error = Status> + Clone + Send + 'static,
        S::Future: Send,
    {
        let method = call.operation.method.clone();
        if !self.methods.contains(method.full_name()) || bypass(&call.origin.headers) {
            let mut reply = call_inner(inner, call).await?;
            reply
                .metadata
                .insert(CACHE_STATUS, HeaderValue::from_static("BYPASS"));
            return Ok(reply);
        }
        // The input, canonical: decoded and encoded again (fields in number order).
        let Some(message) = call.input.next().await else {
            return Err(Status::invalid_argument("no request message"));
        };
        let canonical = message.decoded()?.encode_to_vec();
        let keys = self.keys(&call, &canonical);
        call.input = futures::stream::once(async move { message }).boxed();
        let output = method.output();
        let shared = self.store.get(&keys.shared).await;
        let cached = match &keys.own {
            None => shared,
            // A caller with credentials is served a shared entry only when its reply was
            // explicitly public.
            Some(own) => match shared.filter(|entry| entry.public) {
                Some(entry) => Some(entry),
                None => self.store.get(own).await,
            },
        }
        .filter(|entry| !entry.varies_from(&call.origin.headers));
        if let Some(entry) = &cached {
            let age = entry.age();
            if age < entry.fresh_for {
                return Ok(entry.reply(&output, "HIT"));
            }
            if age < entry.fresh_for + self.stale_while_revalidate.as_secs_f64() {
                let refresh = self.clone().load(inner, call, keys);
                tokio::spawn(async move {
                    let _ = refresh.await;
                });
                return Ok(entry.reply(&output, "STALE"));
            }
        }
        match self.clone().load(inner, call, keys).await {
            Ok((entry, first)) => Ok(entry.reply(&output, if first { "MISS" } else { "HIT" })),
            Err(status) => match cached {
                Some(entry)
                    if entry.age() < entry.fresh_for + self.stale_if_error.as_secs_f64() =>
                {
                    Ok(entry.reply(&output, "STALE"))
                }
                _ => Err(status),
            },
        }
    }

    /// One backend call per key at a time: the entry, and whether this call made it.
    async fn load<S>(
        self: Arc<Self>,
        inner: S,
        call: Call,
        keys: Keys,
    ) -> Result<(Arc<Entry>, bool), Status>
    where
        S: tower::Service<Call, Response = Reply, Error = Status> + Clone + Send + 'static,
        S::Future: Send,
    {
        let (pending, first, filling) = {
            let mut inflight = self
                .store
                .inflight
                .lock()
                .map_err(|_| Status::internal("cache lock"))?;
            match inflight.get(keys.filling()) {
                Some(pending) => (pending.clone(), false, String::new()),
                None => {
                    let stage = self.clone();
                    let request = call.origin.headers.clone();
                    let filling = keys.filling().to_owned();
                    let pending = async move {
                        let reply = call_inner(inner, call).await;
                        let result = stage.entry(reply, &request, keys.own.is_some()).await;
                        if let Ok((entry, Some(keep))) = &result {
                            let key = match (entry.public, keys.own) {
                                (false, Some(own)) => own,
                                _ => keys.shared,
                            };
                            stage.store.put(key, entry.clone(), *keep).await;
                        }
                        result.map(|(entry, _)| entry)
                    }
                    .boxed()
                    .shared();
                    inflight.insert(filling.clone(), pending.clone());
                    (pending, true, filling)
                }
            }
        };
        let result = pending.await;
        if first {
            if let Ok(mut inflight) = self.store.inflight.lock() {
                inflight.remove(&filling);
            }
        }
        result.map(|entry| (entry, first))
    }

    /// The entry of a reply, and how long to keep it (`None`: not to be stored); `own_entry`:
    /// the call has an entry of its own (a consumer or credentials, and no public cache).
    async fn entry(
        &self,
        reply: Result<Reply, Status>,
        request: &HeaderMap,
        own_entry: bool,
    ) -> Result<(Arc<Entry>, Option<Duration>), Status> {
        let mut reply = reply?;
        let message = reply
            .messages
            .next()
            .await
            .ok_or_else(|| Status::internal("the backend sent no response message"))??;
        let bytes = message.to_wire()?.to_vec();
        // `private` is kept only in an entry of the caller's own: never with a public cache,
        // nor for a call without consumer or credentials, whose entry is the shared one.
        let (fresh, public) = match storable(&reply.metadata, self.ttl) {
            Storable::No => (None, false),
            Storable::For(fresh) => (Some(fresh), false),
            Storable::Public(fresh) => (Some(fresh), true),
            Storable::Private(fresh) => (Some(fresh).filter(|_| own_entry), false),
        };
        let vary: Vec<(String, String)> = reply
            .metadata
            .get_all(http::header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .map(|name| {
                let value = request
                    .get(name.as_str())
                    .map_or("", |v| v.to_str().unwrap_or(""))
                    .to_owned();
                (name, value)
            })
            .collect();
        // `Vary: *` can never match again.
        let fresh = fresh.filter(|_| !vary.iter().any(|(name, _)| name == "*"));
        let metadata = reply
            .metadata
            .iter()
            .filter(|(name, _)| *name != http::header::SET_COOKIE)
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let entry = Entry {
            metadata,
            message: bytes,
            stored_at: now(),
            fresh_for: fresh.unwrap_or_default().as_secs_f64(),
            vary,
            public,
        };
        Ok((Arc::new(entry), fresh.map(|f| self.keep(f))))
    }
}

async fn call_inner<S>(mut inner: S, call: Call) -> Result<Reply, Status>
where
    S: tower::Service<Call, Response = Reply, Error = Status>,
{
    tower::ServiceExt::ready(&mut inner).await?.call(call).await
}

impl super::Stage for CacheStage {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: crate::call::Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        Box::pin(self.serve(next, call))
    }
}
