//! The stages a gateway's configuration makes: its authenticators, consumers, plans, limits
//! and cache store checked once, then each mapping's stages built from its settings.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use prost_reflect::MethodDescriptor;

use super::auth::{AuthStage, Authenticator, Credentials, Method};
use super::rate_limit::{Limit, RateLimitStage, Store};
use super::settings::{
    named_method, no_method, LimitsIn, MethodIpRules, PerMethod, Routes, StageSettings,
};
use super::{
    auth, cache, injection, ip_rules, rate_limit, transform, validate, CallStages, StageLayer,
};
use crate::call::{Call, Consumer, Invoker};
use crate::config::{
    self, pos_in, AuthOptions, Diagnostic, Diagnostics, LimitKey, LoadedConfig, LoadedMapping,
    Located,
};

pub struct Security {
    authenticators: HashMap<String, Arc<Authenticator>>,
    /// Authenticators whose configuration is wrong (reported already).
    broken: HashSet<String>,
    credentials: Arc<Credentials>,
    plans: Arc<HashMap<String, Vec<String>>>,
    pub store: Arc<Store>,
    plan_limits: Arc<HashMap<String, Vec<Arc<Limit>>>>,
    /// Every limit made, by where it is written: a limit of gateway.yaml counts once for all
    /// the mappings it applies to.
    made_limits: std::sync::Mutex<HashMap<String, Arc<Limit>>>,
    /// The limits of named backends.
    made_outbound: std::sync::Mutex<HashMap<String, Arc<rate_limit::OutboundLimit>>>,
    pub cache: Arc<cache::Store>,
    /// The variables `${...}` in mappings expand to.
    vars: config::Vars,
    /// The SHA-256 of the purge endpoint's token, if there is one.
    pub purge_token: Option<[u8; 32]>,
    /// What injection filtering found, for the metrics.
    pub injections: Arc<injection::Counters>,
}

impl Security {
    /// The gateway's metrics: the counters of the stages built from these settings.
    pub(crate) fn registry(&self) -> prometheus::Registry {
        let registry = prometheus::Registry::new();
        self.store.register(&registry);
        self.injections.register(&registry);
        registry
    }

    pub fn new(config: &LoadedConfig, diags: &mut Diagnostics) -> Security {
        let gateway = &config.gateway;
        let pos = |l: &Located<String>| config.pos(l);
        let credentials = credentials(config, diags);
        let plans = gateway
            .plans
            .iter()
            .map(|(name, plan)| {
                let allow = plan.allow.iter().map(|s| s.value.clone()).collect();
                (name.clone(), allow)
            })
            .collect();
        let mut authenticators = HashMap::new();
        let mut broken = HashSet::new();
        for (name, a) in &gateway.authenticators {
            match auth::method(config, a, name, diags) {
                Some(method) => {
                    let made = Authenticator {
                        name: name.clone(),
                        method,
                    };
                    authenticators.insert(name.clone(), Arc::new(made));
                }
                None => {
                    broken.insert(name.clone());
                }
            }
        }
        let limiting = &gateway.rate_limiting;
        let redis = limiting.redis.as_ref().and_then(|url| {
            let text = config::expand(url, pos(url), &config.vars, diags)?;
            rate_limit::Redis::new(&text, limiting.redis_failure)
                .map_err(|e| diags.push(Diagnostic::at(&pos(url), format!("not a Redis URL: {e}"))))
                .ok()
        });
        let store = Arc::new(Store {
            redis,
            trusted_proxies: nets(&limiting.trusted_proxies, &config.gateway_file, diags),
            max_keys: limiting.max_keys.unwrap_or(100_000),
        });
        let caching = &gateway.caching;
        let cache_redis = caching.redis.as_ref().and_then(|url| {
            let text = config::expand(url, pos(url), &config.vars, diags)?;
            redis::Client::open(text.as_str())
                .map_err(|e| diags.push(Diagnostic::at(&pos(url), format!("not a Redis URL: {e}"))))
                .ok()
        });
        let purge_token = caching
            .purge_token
            .as_ref()
            .and_then(|t| config.secret(t, diags))
            .map(|t| auth::digest(t.as_bytes()));
        // What gateway.yaml sets for every mapping cannot name a mapping's methods or fields.
        transform::check_gateway(&gateway.transforms, &config.gateway_file, diags);
        if let Some(first) = gateway.cache.iter().flat_map(|c| &c.methods).next() {
            diags.push(Diagnostic::at(
                &pos(first),
                "gateway.yaml's cache is for every read of mappings without their own: choose methods in a mapping",
            ));
        }
        let made_limits = std::sync::Mutex::new(HashMap::new());
        let plan_limits = gateway
            .plans
            .iter()
            .map(|(name, plan)| {
                let list = (&plan.rate_limits[..], &config.gateway_file);
                (
                    name.clone(),
                    limits(list, &made_limits, store.max_keys, diags),
                )
            })
            .collect();
        Security {
            authenticators,
            broken,
            credentials: Arc::new(credentials),
            plans: Arc::new(plans),
            store,
            plan_limits: Arc::new(plan_limits),
            made_limits,
            made_outbound: std::sync::Mutex::new(HashMap::new()),
            cache: Arc::new(cache::Store::new(
                caching.memory.map_or(64 << 20, |b| b.0),
                cache_redis,
            )),
            purge_token,
            injections: Arc::default(),
            vars: config.vars.clone(),
        }
    }

    /// Wraps the invoker of a mapping's backend in the backend's own limit, if it has one
    /// (one limit per named backend, whichever mappings call it).
    pub fn outbound(
        &self,
        invoker: Invoker,
        name: &str,
        config: &config::BackendConfig,
    ) -> Invoker {
        let Some(limit) = &config.rate_limit else {
            return invoker;
        };
        let made = self.made_outbound.lock().ok().and_then(|mut made| {
            if let Some(limit) = made.get(name) {
                return Some(limit.clone());
            }
            let limit = Arc::new(rate_limit::OutboundLimit::new(
                name.to_owned(),
                limit.requests,
                limit.per.0,
                limit.burst,
                limit.queue.unwrap_or(100),
            )?);
            made.insert(name.to_owned(), limit.clone());
            Some(limit)
        });
        match made {
            Some(limit) => tower::Layer::layer(&StageLayer(limit), invoker),
            None => invoker,
        }
    }

    /// Puts a mapping's invoker behind its call stages (`CallStages::over` has their order).
    /// Methods with `routes` settings get their own cache, limits, authentication and IP
    /// rules; transforms and validation are the mapping's for every method. Also gives the IP
    /// rules of each method.
    pub fn stages(
        &self,
        invoker: Invoker,
        mapping: &LoadedMapping,
        settings: StageSettings<'_>,
        routes: &Routes<'_>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> (Invoker, MethodIpRules) {
        let own = self.call_stages(settings, methods, diags);
        let mut ip_rules = PerMethod::new(own.ip_rules.clone());
        if routes.is_empty() {
            return (own.over(invoker), ip_rules);
        }
        let mut by_method = HashMap::new();
        for (method, route) in routes {
            let file = &mapping.file;
            let stages = CallStages {
                cache: match &route.cache {
                    Some(options) => self.route_cache(options, method, file, diags),
                    None => own.cache.clone(),
                },
                limits: match &route.rate_limits {
                    Some(list) => self.limit_stage(Some((list, file)), diags),
                    None => own.limits.clone(),
                },
                auth: match &route.auth {
                    Some(options) => self.auth_stage(Some((options, file)), methods, diags),
                    None => own.auth.clone(),
                },
                ip_rules: match &route.ip_rules {
                    Some(rules) => self.ip_stage(Some((rules, file)), diags),
                    None => own.ip_rules.clone(),
                },
                ..own.clone()
            };
            ip_rules.set(method.full_name(), stages.ip_rules.clone());
            by_method.insert(method.full_name().to_owned(), stages.over(invoker.clone()));
        }
        let others = own.over(invoker);
        let by_method = Arc::new(by_method);
        let invoker = Invoker::new(tower::service_fn(move |call: Call| {
            let method = call.operation.method.full_name();
            let next = by_method.get(method).unwrap_or(&others).clone();
            tower::ServiceExt::oneshot(next, call)
        }));
        (invoker, ip_rules)
    }

    /// The cache of one method (a `routes` entry's), which has no `methods` to choose.
    fn route_cache(
        &self,
        options: &Located<config::CacheOptions>,
        method: &MethodDescriptor,
        file: &Arc<str>,
        diags: &mut Diagnostics,
    ) -> Option<Arc<cache::CacheStage>> {
        if let Some(first) = options.methods.first() {
            let why = "a route's cache is its own method's: leave out `methods`";
            diags.push(Diagnostic::at(&pos_in(file, first), why));
            return None;
        }
        if !cacheable(method) {
            diags.push(not_a_read(pos_in(file, options), method));
            return None;
        }
        let one = std::slice::from_ref(method);
        Some(self.cache_stage((options, file), one, diags))
    }

    /// The call stages that `settings` ask for.
    fn call_stages(
        &self,
        settings: StageSettings<'_>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> CallStages {
        let transforms = transform::build(&settings.transforms, methods, &self.vars, diags);
        let injection = settings.injection.and_then(|(config, file)| {
            injection::build(file, config, methods, self.injections.clone(), diags)
        });
        let validation = (settings.validation)
            .and_then(|(v, file)| validate::build(file, v, methods, diags))
            .filter(validate::Validator::checks_any);
        // Built in this order so that the diagnostics come in it.
        let cache = (settings.cache).map(|cache| self.cache_stage(cache, methods, diags));
        let limits = self.limit_stage(settings.rate_limits, diags);
        let auth = self.auth_stage(settings.auth, methods, diags);
        CallStages {
            ip_rules: self.ip_stage(settings.ip_rules, diags),
            auth,
            limits,
            cache,
            validation: validation.map(Arc::new),
            injection: injection.map(Arc::new),
            transforms: (!transforms.by_method.is_empty()).then(|| Arc::new(transforms)),
        }
    }

    /// Local or Redis limits: `list`, and the plans' limits of authenticated consumers.
    fn limit_stage(
        &self,
        list: Option<LimitsIn<'_>>,
        diags: &mut Diagnostics,
    ) -> Option<Arc<RateLimitStage>> {
        let own = list
            .map(|l| limits(l, &self.made_limits, self.store.max_keys, diags))
            .unwrap_or_default();
        if own.is_empty() && self.plan_limits.values().all(Vec::is_empty) {
            return None;
        }
        Some(Arc::new(RateLimitStage {
            store: self.store.clone(),
            limits: own,
            plans: self.plan_limits.clone(),
        }))
    }

    /// IP allow and deny lists, written in `file`.
    fn ip_stage(
        &self,
        rules: Option<(&config::IpRules, &Arc<str>)>,
        diags: &mut Diagnostics,
    ) -> Option<Arc<ip_rules::IpStage>> {
        let (rules, file) = rules?;
        Some(Arc::new(ip_rules::IpStage {
            store: self.store.clone(),
            allow: nets(&rules.allow, file, diags),
            deny: nets(&rules.deny, file, diags),
        }))
    }

    /// The query parameters that carry credentials for the authenticators of `settings` and
    /// of `routes`.
    pub fn credential_query(
        &self,
        settings: StageSettings<'_>,
        routes: &Routes<'_>,
    ) -> Vec<String> {
        let own = settings.auth.into_iter().map(|(o, _)| o);
        let of_routes = routes.iter().filter_map(|(_, route)| route.auth.as_ref());
        let names = own.chain(of_routes).flat_map(|o| &o.any_of);
        let mut query: Vec<String> = names
            .filter_map(|name| match &self.authenticators.get(&name.value)?.method {
                Method::ApiKey { query, .. } => query.clone(),
                _ => None,
            })
            .collect();
        query.sort();
        query.dedup();
        query
    }

    /// The cache of `methods` (the reads among them, or those `options` names).
    fn cache_stage(
        &self,
        (options, file): (&Located<config::CacheOptions>, &Arc<str>),
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Arc<cache::CacheStage> {
        let mut cached = HashSet::new();
        for selector in &options.methods {
            match named_method(selector, methods) {
                Some(one) if cacheable(one) => {
                    cached.insert(one.full_name().to_owned());
                }
                Some(one) => diags.push(not_a_read(pos_in(file, selector), one)),
                None => diags.push(no_method(pos_in(file, selector), selector, methods)),
            }
        }
        if options.methods.is_empty() {
            cached.extend(
                methods
                    .iter()
                    .filter(|m| cacheable(m))
                    .map(|m| m.full_name().to_owned()),
            );
        }
        let mut credential_headers = vec![http::header::AUTHORIZATION, http::header::COOKIE];
        for authenticator in self.authenticators.values() {
            if let Method::ApiKey { header, .. } = &authenticator.method {
                credential_headers.push(header.clone());
            }
        }
        for name in &options.credential_headers {
            match http::HeaderName::from_bytes(name.value.as_bytes()) {
                Ok(header) => credential_headers.push(header),
                Err(_) => diags.push(Diagnostic::at(
                    &pos_in(file, name),
                    format!("`{}` is not a header name", name.value),
                )),
            }
        }
        credential_headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        credential_headers.dedup();
        let mut credential_query: Vec<String> = self
            .authenticators
            .values()
            .filter_map(|a| match &a.method {
                Method::ApiKey { query, .. } => query.clone(),
                _ => None,
            })
            .collect();
        credential_query.sort();
        credential_query.dedup();
        Arc::new(cache::CacheStage {
            store: self.cache.clone(),
            ttl: options.ttl.0,
            methods: cached,
            public: options.public,
            credential_headers,
            credential_query,
            stale_while_revalidate: options
                .stale_while_revalidate
                .map_or(Duration::ZERO, |d| d.0),
            stale_if_error: options.stale_if_error.map_or(Duration::ZERO, |d| d.0),
        })
    }

    /// Authentication by `options` (written in `file`), if there are any; `methods` are the
    /// mapping's, which `public` names.
    fn auth_stage(
        &self,
        options: Option<(&AuthOptions, &Arc<str>)>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Option<Arc<AuthStage>> {
        let (options, file) = options?;
        let pos = |l: &Located<String>| pos_in(file, l);
        let mut authenticators = Vec::new();
        for name in &options.any_of {
            match self.authenticators.get(&name.value) {
                Some(a) => authenticators.push(a.clone()),
                None if self.broken.contains(&name.value) => {}
                None => diags.push(Diagnostic::at(
                    &pos(name),
                    format!("no authenticator `{}` in gateway.yaml", name.value),
                )),
            }
        }
        let mut public = HashSet::new();
        for selector in &options.public {
            match named_method(selector, methods) {
                Some(one) => {
                    public.insert(one.full_name().to_owned());
                }
                None => diags.push(no_method(pos(selector), selector, methods)),
            }
        }
        let header = |l: &Located<String>, diags: &mut Diagnostics| {
            HeaderName::from_bytes(l.to_ascii_lowercase().as_bytes())
                .map_err(|_| diags.push(Diagnostic::at(&pos(l), "not a header name")))
                .ok()
        };
        let forward_consumer = options
            .forward_consumer
            .as_ref()
            .and_then(|l| header(l, diags));
        let forward_claims = options
            .forward_claims
            .iter()
            .filter_map(|(claim, l)| Some((claim.clone(), header(l, diags)?)))
            .collect();
        Some(Arc::new(AuthStage {
            authenticators,
            credentials: self.credentials.clone(),
            public,
            plans: self.plans.clone(),
            forward_consumer,
            forward_claims,
        }))
    }
}

/// The consumers' credentials, each secret checked (and hashed) once.
fn credentials(config: &LoadedConfig, diags: &mut Diagnostics) -> Credentials {
    let gateway = &config.gateway;
    let pos = |l: &Located<String>| config.pos(l);
    // A stored digest (`sha256:<hex>`), or a secret to hash now.
    let digest = |l: &Located<String>, diags: &mut Diagnostics| -> Option<[u8; 32]> {
        if let Some(hex) = l.strip_prefix("sha256:") {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            return match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(digest) => Some(digest),
                None => {
                    diags.push(Diagnostic::at(
                        &pos(l),
                        "`sha256:` is followed by 64 hexadecimal digits",
                    ));
                    None
                }
            };
        }
        config.secret(l, diags).map(|s| auth::digest(s.as_bytes()))
    };
    let mut credentials = Credentials::default();
    for (id, consumer) in &gateway.consumers {
        if let Some(plan) = &consumer.plan {
            if !gateway.plans.contains_key(&plan.value) {
                diags.push(Diagnostic::at(
                    &pos(plan),
                    format!("no plan `{}` in `plans`", plan.value),
                ));
            }
        }
        let made = Arc::new(Consumer {
            id: id.clone(),
            plan: consumer.plan.as_ref().map(|p| p.value.clone()),
            metadata: consumer.metadata.clone().into_iter().collect(),
        });
        credentials.consumers.insert(id.clone(), made.clone());
        for key in &consumer.api_keys {
            if let Some(digest) = digest(key, diags) {
                credentials.api_keys.push((digest, made.clone()));
            }
        }
        if let Some(basic) = &consumer.basic {
            if let Some(digest) = digest(&basic.password, diags) {
                let user = basic.username.value.clone();
                credentials.basic.push((user, digest, made.clone()));
            }
        }
        for hmac in &consumer.hmac {
            if let Some(secret) = config.secret(&hmac.secret, diags) {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
                let previous = credentials
                    .hmac
                    .insert(hmac.key_id.value.clone(), (key, made.clone()));
                if previous.is_some() {
                    diags.push(Diagnostic::at(
                        &pos(&hmac.key_id),
                        format!("two consumers have the HMAC key id `{}`", hmac.key_id.value),
                    ));
                }
            }
        }
    }
    credentials
}

/// Whether the cache may keep a method's replies: a unary read (design.md section 4's names).
fn cacheable(method: &MethodDescriptor) -> bool {
    !method.is_client_streaming()
        && !method.is_server_streaming()
        && crate::registry::reads_by_name(method)
}

/// The diagnostic for a cache of a method that is not a unary read.
fn not_a_read(at: config::Pos, method: &MethodDescriptor) -> Diagnostic {
    let name = method.full_name();
    Diagnostic::at(
        &at,
        format!("{name} is not a unary read; only those are cached"),
    )
}

/// Addresses or CIDR blocks, as written in `file`.
fn nets(list: &[Located<String>], file: &Arc<str>, diags: &mut Diagnostics) -> Vec<ipnet::IpNet> {
    let parse = |text: &str| {
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .ok()
    };
    let checked = |text: &Located<String>| {
        let net = parse(text);
        if net.is_none() {
            let why = format!("`{}` is not an address or a CIDR block", text.value);
            diags.push(Diagnostic::at(&pos_in(file, text), why));
        }
        net
    };
    list.iter().filter_map(checked).collect()
}

/// Limits from their configuration.
fn limits(
    (list, file): LimitsIn<'_>,
    made: &std::sync::Mutex<HashMap<String, Arc<Limit>>>,
    max_keys: u64,
    diags: &mut Diagnostics,
) -> Vec<Arc<Limit>> {
    let mut out = Vec::new();
    for limit in list {
        let at = pos_in(file, limit);
        // The same in every instance that has the same files (Redis keys are made of it).
        let name_of_file = std::path::Path::new(&**file)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let id = format!("{name_of_file}:{}:{}", limit.line, limit.column);
        if let Some(limit) = made.lock().ok().and_then(|m| m.get(&id).cloned()) {
            out.push(limit);
            continue;
        }
        let header = match (limit.key, &limit.header) {
            (LimitKey::Header, Some(h)) => {
                match HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()) {
                    Ok(h) => Some(h),
                    Err(_) => {
                        diags.push(Diagnostic::at(&at, format!("`{h}` is not a header name")));
                        continue;
                    }
                }
            }
            (LimitKey::Header, None) => {
                diags.push(Diagnostic::at(
                    &at,
                    "a limit with `key: header` names its `header`",
                ));
                continue;
            }
            _ => None,
        };
        let name = limit
            .name
            .clone()
            .unwrap_or_else(|| format!("{:?}", limit.key).to_ascii_lowercase());
        let made_limit = Limit::new(limit, header, name, id.clone(), max_keys);
        match made_limit {
            Some(limit) => {
                let limit = Arc::new(limit);
                if let Ok(mut made) = made.lock() {
                    made.insert(id, limit.clone());
                }
                out.push(limit);
            }
            None => diags.push(Diagnostic::at(
                &at,
                "`requests`, `burst` and `per` of a limit are more than zero",
            )),
        }
    }
    out
}
