//! Rate limiting (design.md section 7): GCRA, by `governor` in each instance, or in Redis by
//! an atomic script on the Redis clock, shared by every instance. Keys: the client's address
//! (through trusted proxies only), the consumer, the credential, a header, the method, or one
//! global key. 429 (RESOURCE_EXHAUSTED on gRPC, a GraphQL error) with `Retry-After`,
//! `RateLimit-Policy`, `RateLimit` and `X-RateLimit-*`; the same headers on every answer.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use prometheus::{IntCounter, Registry};

use crate::call::{Call, Consumer, Origin, Reply};
use crate::config::{LimitConfig, LimitKey, RedisFailure};
use crate::status::Status;

/// One limit and its state.
pub(crate) struct Limit {
    pub key: LimitKey,
    pub header: Option<HeaderName>,
    pub requests: u32,
    pub per: Duration,
    pub burst: u32,
    pub name: String,
    /// A unique id (for Redis keys): the place it was configured.
    pub id: String,
    local: RateLimiter<String, BoundedKeys, DefaultClock, StateInformationMiddleware>,
    checks: AtomicUsize,
}

/// The GCRA state of a local limit's keys, at most `max_keys` of them. A client not in a full
/// table is counted in one shared overflow budget (strict, and bounded), until the periodic
/// sweep (`Store::count`) drops the keys that are back to a fresh state. (governor's own keyed
/// store only has that sweep, so keys inside their window — a day, for a daily quota — could
/// pile up without bound.)
pub(crate) struct BoundedKeys {
    keys: DashMapStateStore<String>,
    overflow: InMemoryState,
    max_keys: usize,
}

impl BoundedKeys {
    fn new(max_keys: u64) -> BoundedKeys {
        BoundedKeys {
            keys: DashMapStateStore::default(),
            overflow: InMemoryState::default(),
            max_keys: usize::try_from(max_keys).unwrap_or(usize::MAX),
        }
    }
}

impl StateStore for BoundedKeys {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if let Some(state) = self.keys.get(key) {
            return state.measure_and_replace(&NotKeyed::NonKey, f);
        }
        if self.keys.len() >= self.max_keys {
            return self.overflow.measure_and_replace(&NotKeyed::NonKey, f);
        }
        self.keys.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<String> for BoundedKeys {
    fn retain_recent(&self, drop_below: Nanos) {
        self.keys.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        self.keys.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Limit {
    /// The limit `config` describes (with its header, for `key: header`), named `name`,
    /// identified by `id`, keeping at most `max_keys` keys locally.
    pub(crate) fn new(
        config: &LimitConfig,
        header: Option<HeaderName>,
        name: String,
        id: String,
        max_keys: u64,
    ) -> Option<Limit> {
        let per = config.per.0;
        let requests = NonZeroU32::new(config.requests)?;
        let burst = NonZeroU32::new(config.burst.unwrap_or(requests.get()))?;
        let quota = Quota::with_period(per / requests.get())?.allow_burst(burst);
        Some(Limit {
            key: config.key,
            header,
            requests: requests.get(),
            per,
            burst: burst.get(),
            name,
            id,
            local: RateLimiter::new(quota, BoundedKeys::new(max_keys), DefaultClock::default()),
            checks: AtomicUsize::new(0),
        })
    }

    /// The key a call counts under; `None` when the call has nothing to count by (no
    /// consumer, say), and the limit does not apply.
    fn key_of(&self, call: &Counted, client: Option<IpAddr>) -> Option<String> {
        match self.key {
            LimitKey::Ip => client.map(|ip| ip.to_string()),
            LimitKey::Consumer => call.consumer.as_ref().map(|c| c.id.clone()),
            LimitKey::Credential => call
                .origin
                .headers
                .get(http::header::AUTHORIZATION)
                .map(|v| hex(&super::auth::digest(v.as_bytes()))),
            LimitKey::Header => self
                .header
                .as_ref()
                .and_then(|h| call.origin.headers.get(h))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            LimitKey::Route => Some(call.method.clone()),
            LimitKey::Global => Some(String::new()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the limits count a call by.
struct Counted {
    origin: Arc<Origin>,
    consumer: Option<Arc<Consumer>>,
    method: String,
}

/// What one limit said of one call.
struct Count {
    allowed: bool,
    remaining: u32,
    /// Until the limit is whole again (or, refused, until a call would pass).
    reset: Duration,
}

impl Store {
    /// Adds the rate limits' counters to the gateway's metrics.
    pub(crate) fn register(&self, registry: &Registry) {
        let failures = match &self.redis {
            Some(redis) => redis.failures.clone(),
            None => failures_counter(),
        };
        super::register_metric(registry, failures);
    }
}

fn failures_counter() -> IntCounter {
    IntCounter::new(
        "rosetta_rate_limit_redis_failures_total",
        "Rate limit decisions made without Redis because it could not be reached.",
    )
    .expect("the metric's name is valid")
}

/// Where the limits keep their state: in this instance, or in Redis.
pub struct Store {
    pub redis: Option<Redis>,
    pub trusted_proxies: Vec<IpNet>,
    /// The most keys a local limit keeps (`rate_limiting.max_keys`).
    pub max_keys: u64,
}

pub struct Redis {
    pub client: redis::Client,
    pub failure: RedisFailure,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
    /// Calls decided without Redis because it could not be reached.
    pub failures: IntCounter,
}

/// GCRA on the Redis clock, atomically: KEYS[1] holds the theoretical arrival time (µs).
/// ARGV: emission interval (µs), burst. Returns {allowed, remaining, reset µs}.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local limit = interval * burst
if new_tat - now > limit then
  return {0, 0, math.ceil(new_tat - now - limit)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((limit - (new_tat - now)) / interval), math.ceil(new_tat - now)}
"#;

impl Redis {
    pub fn new(url: &str, failure: RedisFailure) -> Result<Redis, redis::RedisError> {
        Ok(Redis {
            client: redis::Client::open(url)?,
            failure,
            connection: tokio::sync::OnceCell::new(),
            script: redis::Script::new(GCRA),
            failures: failures_counter(),
        })
    }

    async fn count(&self, limit: &Limit, key: &str) -> Result<Count, redis::RedisError> {
        let connection = self
            .connection
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1);
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        let interval = (limit.per.as_micros() / u128::from(limit.requests)).max(1) as u64;
        // The hash tag keeps a key in one slot of a Redis Cluster.
        let redis_key = format!("rosetta:rl:{{{}:{key}}}", limit.id);
        let (allowed, remaining, reset): (i64, i64, i64) = self
            .script
            .key(redis_key)
            .arg(interval)
            .arg(limit.burst)
            .invoke_async(&mut connection.clone())
            .await?;
        Ok(Count {
            allowed: allowed == 1,
            remaining: remaining.max(0) as u32,
            reset: Duration::from_micros(reset.max(0) as u64),
        })
    }
}

impl Store {
    /// The client's address: the peer, or — when the peer is a trusted proxy — the right-most
    /// address of `X-Forwarded-For` (or `Forwarded: for=`) that is not a trusted proxy.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.ip();
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("forwarded") {
            for element in value.to_str().unwrap_or("").split(',') {
                for pair in element.split(';') {
                    if let Some(node) = pair.trim().strip_prefix("for=") {
                        let node = node.trim_matches('"');
                        let node = node
                            .strip_prefix('[')
                            .map_or(node, |n| n.split(']').next().unwrap_or(n));
                        let node = if node.matches(':').count() == 1 {
                            node.split(':').next().unwrap_or(node)
                        } else {
                            node
                        };
                        hops.extend(node.parse::<IpAddr>().ok());
                    }
                }
            }
        }
        if hops.is_empty() {
            for value in headers.get_all("x-forwarded-for") {
                for hop in value.to_str().unwrap_or("").split(',') {
                    // An unreadable hop ends what can be believed.
                    match hop.trim().parse::<IpAddr>() {
                        Ok(ip) => hops.push(ip),
                        Err(_) => hops.clear(),
                    }
                }
            }
        }
        Some(
            hops.into_iter()
                .rev()
                .find(|ip| !trusted(ip))
                .unwrap_or(peer),
        )
    }

    async fn count(&self, limit: &Limit, key: &str) -> Result<Count, Status> {
        if let Some(redis) = &self.redis {
            match redis.count(limit, key).await {
                Ok(count) => return Ok(count),
                Err(e) => {
                    redis.failures.inc();
                    tracing::warn!(error = %e, failures = redis.failures.get(), "rate limiting without Redis");
                    if redis.failure == RedisFailure::Closed {
                        return Err(Status::unavailable("rate limiting is unavailable"));
                    }
                    return Ok(Count {
                        allowed: true,
                        remaining: limit.burst,
                        reset: Duration::ZERO,
                    });
                }
            }
        }
        // A full table: drop the keys that are back to a fresh state, now and then.
        let sweep = limit
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1024);
        if sweep && limit.local.len() >= self.max_keys as usize {
            limit.local.retain_recent();
            limit.local.shrink_to_fit();
        }
        Ok(match limit.local.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = limit.burst - remaining;
                Count {
                    allowed: true,
                    remaining,
                    reset: limit.per * used / limit.requests,
                }
            }
            Err(not_until) => Count {
                allowed: false,
                remaining: 0,
                reset: not_until.wait_time_from(DefaultClock::default().now()),
            },
        })
    }
}

/// The limits of one mapping (its own, and those of the consumer's plan).
pub(crate) struct RateLimitStage {
    pub store: Arc<Store>,
    pub limits: Vec<Arc<Limit>>,
    /// Plan name -> its limits.
    pub plans: Arc<std::collections::HashMap<String, Vec<Arc<Limit>>>>,
}

impl RateLimitStage {
    /// Counts the call against every limit that applies; the headers to answer with, or the
    /// refusal.
    async fn admit(&self, call: Counted) -> Result<HeaderMap, Status> {
        let plan = call
            .consumer
            .as_ref()
            .and_then(|c| c.plan.as_ref())
            .and_then(|p| self.plans.get(p));
        let client = self.store.client(call.origin.peer, &call.origin.headers);
        let mut policies = Vec::new();
        // The tightest limit: (remaining, reset, limit) — what the headers report.
        let mut tightest: Option<(u32, Duration, &Limit)> = None;
        let mut refused: Option<(Duration, &Limit)> = None;
        for limit in self.limits.iter().chain(plan.into_iter().flatten()) {
            let Some(key) = limit.key_of(&call, client) else {
                continue;
            };
            let count = self.store.count(limit, &key).await?;
            policies.push(format!(
                "\"{}\";q={};w={}",
                limit.name,
                limit.requests,
                limit.per.as_secs().max(1)
            ));
            if !count.allowed && refused.is_none_or(|(wait, _)| count.reset > wait) {
                refused = Some((count.reset, limit));
            }
            if tightest.is_none_or(|(remaining, _, _)| count.remaining < remaining) {
                tightest = Some((count.remaining, count.reset, limit));
            }
        }
        let mut headers = HeaderMap::new();
        let Some((remaining, reset, limit)) = tightest else {
            return Ok(headers);
        };
        let seconds = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("ratelimit-policy", policies.join(", "));
        set(
            "ratelimit",
            format!("\"{}\";r={remaining};t={}", limit.name, seconds(reset)),
        );
        set("x-ratelimit-limit", limit.requests.to_string());
        set("x-ratelimit-remaining", remaining.to_string());
        set("x-ratelimit-reset", seconds(reset).to_string());
        if let Some((wait, limit)) = refused {
            set("retry-after", seconds(wait).max(1).to_string());
            set("x-ratelimit-limit", limit.requests.to_string());
            set("x-ratelimit-remaining", "0".to_string());
            set("x-ratelimit-reset", seconds(wait).max(1).to_string());
            let mut status = Status::new(
                tonic::Code::ResourceExhausted,
                format!("rate limit `{}` exceeded", limit.name),
            );
            for (name, value) in &headers {
                status = status.with_header(name.clone(), value.clone());
            }
            return Err(status);
        }
        Ok(headers)
    }
}

impl super::Stage for RateLimitStage {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: crate::call::Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        Box::pin(async move {
            let counted = Counted {
                origin: call.origin.clone(),
                consumer: call.consumer.clone(),
                method: call.operation.method.full_name().to_owned(),
            };
            let headers = self.admit(counted).await?;
            let mut reply = tower::ServiceExt::oneshot(next, call).await?;
            reply.metadata.extend(headers);
            Ok(reply)
        })
    }
}

/// A backend's own limit: calls past it wait their turn in a bounded queue (and within their
/// deadline), then fail with RESOURCE_EXHAUSTED.
pub(crate) struct OutboundLimit {
    pub backend: String,
    limiter: governor::DefaultDirectRateLimiter,
    queue: tokio::sync::Semaphore,
}

impl OutboundLimit {
    pub(crate) fn new(
        backend: String,
        requests: u32,
        per: Duration,
        burst: Option<u32>,
        queue: usize,
    ) -> Option<OutboundLimit> {
        let requests = NonZeroU32::new(requests)?;
        let burst = NonZeroU32::new(burst.unwrap_or(1))?;
        let quota = Quota::with_period(per / requests.get())?.allow_burst(burst);
        Some(OutboundLimit {
            backend,
            limiter: governor::RateLimiter::direct(quota),
            queue: tokio::sync::Semaphore::new(queue),
        })
    }

    async fn wait(&self, deadline: Option<tokio::time::Instant>) -> Result<(), Status> {
        let mut place = None;
        loop {
            let Err(not_until) = self.limiter.check() else {
                return Ok(());
            };
            if place.is_none() {
                place = Some(self.queue.try_acquire().map_err(|_| {
                    Status::new(
                        tonic::Code::ResourceExhausted,
                        format!(
                            "the calls waiting for backend `{}` are too many",
                            self.backend
                        ),
                    )
                })?);
            }
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let until = tokio::time::Instant::now() + wait;
            if deadline.is_some_and(|deadline| until > deadline) {
                return Err(Status::deadline_exceeded());
            }
            tokio::time::sleep_until(until).await;
        }
    }
}

impl super::Stage for OutboundLimit {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: crate::call::Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        Box::pin(async move {
            self.wait(call.deadline).await?;
            tower::ServiceExt::oneshot(next, call).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_limit_keeps_at_most_max_keys() {
        // A daily quota of one call, as `Limit::new` makes it, over a table of 100 keys.
        let quota = Quota::with_period(Duration::from_secs(86_400)).unwrap();
        let limiter: RateLimiter<String, BoundedKeys, DefaultClock, StateInformationMiddleware> =
            RateLimiter::new(quota, BoundedKeys::new(100), DefaultClock::default());
        // The first 100 clients get a key each and their call; the table is then full.
        let client = |n: u32| format!("10.0.{}.{}", n / 256, n % 256);
        for n in 0..100 {
            assert!(limiter.check_key(&client(n)).is_ok());
        }
        // The next ten thousand share the overflow budget: one call among them in the day.
        let passed = (100..10_100)
            .filter(|n| limiter.check_key(&client(*n)).is_ok())
            .count();
        assert_eq!(passed, 1);
        assert_eq!(limiter.len(), 100);
        // A remembered client is still counted: its second call within the day is refused.
        assert!(limiter.check_key(&client(7)).is_err());
    }
}
