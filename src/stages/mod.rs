//! Stages (design.md section 7): tower layers over a mapping's invoker, each with a typed
//! configuration. They act on the canonical call, so every frontend gets them alike.

pub mod access_log;
pub mod auth;
pub mod cache;
pub mod cors;
pub mod guard;
pub mod injection;
pub mod ip_rules;
pub mod jwt;
pub mod rate_limit;
pub mod transform;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use jsonwebtoken::{Algorithm, DecodingKey};
use prost_reflect::MethodDescriptor;

use crate::call::{Call, Consumer, Invoker, Reply};
use crate::config::{
    self, pos_in, AuthOptions, AuthenticatorConfig, Diagnostic, Diagnostics, LimitConfig, LimitKey,
    LoadedConfig, LoadedMapping, Located,
};
use crate::status::Status;
use auth::{AuthStage, Authenticator, Credentials, Method};
use rate_limit::{Limit, RateLimitStage, Store};

/// A stage: what to do with a call, given the invoker after it.
pub trait Stage: Send + Sync + 'static {
    fn call(
        self: Arc<Self>,
        call: Call,
        next: Invoker,
    ) -> futures::future::BoxFuture<'static, Result<Reply, Status>>;
}

/// A stage as a tower layer over an invoker.
pub struct StageLayer<T>(pub Arc<T>);

impl<T: Stage> tower::Layer<Invoker> for StageLayer<T> {
    type Service = Invoker;

    fn layer(&self, next: Invoker) -> Invoker {
        let stage = self.0.clone();
        Invoker::new(tower::service_fn(move |call: Call| {
            stage.clone().call(call, next.clone())
        }))
    }
}

/// Rate limits as written, with the file they are written in.
pub type LimitsIn<'a> = (&'a [Located<LimitConfig>], &'a Arc<str>);

/// What a mapping asks of its stages, each setting with the file it is written in: its own
/// settings, or gateway.yaml's where it has none (transforms: gateway.yaml's, then its own).
#[derive(Clone, Copy)]
pub struct StageSettings<'a> {
    pub transforms: [transform::TransformsIn<'a>; 2],
    pub validation: Option<(&'a config::ValidationConfig, &'a Arc<str>)>,
    pub injection: Option<(&'a config::InjectionConfig, &'a Arc<str>)>,
    pub cache: Option<(&'a Located<config::CacheOptions>, &'a Arc<str>)>,
    pub rate_limits: Option<LimitsIn<'a>>,
    pub auth: Option<(&'a AuthOptions, &'a Arc<str>)>,
    pub ip_rules: Option<(&'a config::IpRules, &'a Arc<str>)>,
}

impl<'a> StageSettings<'a> {
    pub fn of(config: &'a LoadedConfig, mapping: &'a LoadedMapping) -> StageSettings<'a> {
        let (gateway, own) = (&config.gateway, &mapping.config);
        let (mine, theirs) = (&mapping.file, &config.gateway_file);
        fn nearest<'a, T: ?Sized>(
            own: Option<&'a T>,
            gateway: Option<&'a T>,
            (mine, theirs): (&'a Arc<str>, &'a Arc<str>),
        ) -> Option<(&'a T, &'a Arc<str>)> {
            own.map(|v| (v, mine)).or(gateway.map(|v| (v, theirs)))
        }
        let files = (mine, theirs);
        let rate_limits = own.rate_limits.as_deref();
        StageSettings {
            transforms: [(&gateway.transforms, theirs), (&own.transforms, mine)],
            validation: nearest(own.validation.as_ref(), gateway.validation.as_ref(), files),
            injection: nearest(own.injection.as_ref(), gateway.injection.as_ref(), files),
            cache: nearest(own.cache.as_ref(), gateway.cache.as_ref(), files),
            rate_limits: nearest(rate_limits, Some(&gateway.rate_limits[..]), files),
            auth: nearest(own.auth.as_ref(), gateway.auth.as_ref(), files),
            ip_rules: nearest(own.ip_rules.as_ref(), gateway.ip_rules.as_ref(), files),
        }
    }
}

/// A mapping's `routes`: each method with its settings.
pub type Routes<'m> = Vec<(MethodDescriptor, &'m Located<config::RouteConfig>)>;

/// The methods a mapping's `routes` name (among its `methods`).
pub fn routes<'m>(
    mapping: &'m LoadedMapping,
    methods: &[MethodDescriptor],
    diags: &mut Diagnostics,
) -> Routes<'m> {
    let mut found: Routes<'m> = Vec::new();
    for (selector, route) in &mapping.config.routes {
        let at = mapping.pos(route);
        match named_method(selector, methods) {
            Some(method) if found.iter().any(|(m, _)| m == method) => diags.push(Diagnostic::at(
                &at,
                format!("{} has two `routes` entries", method.full_name()),
            )),
            Some(method) => found.push((method.clone(), route)),
            None => diags.push(no_method(at, selector)),
        }
    }
    found
}

/// A setting of a mapping's methods: the mapping's, or a method's own (`routes`).
#[derive(Clone, Default)]
pub struct PerMethod<T> {
    pub mapping: T,
    by_method: HashMap<String, T>,
}

impl<T: Clone> PerMethod<T> {
    pub fn new(mapping: T) -> Self {
        PerMethod {
            mapping,
            by_method: HashMap::new(),
        }
    }

    pub fn set(&mut self, method: &str, value: T) {
        self.by_method.insert(method.to_owned(), value);
    }

    pub fn of(&self, method: &str) -> T {
        self.by_method.get(method).unwrap_or(&self.mapping).clone()
    }
}

/// The IP rules of a mapping's methods (the gate refuses by them before a body is read).
pub type MethodIpRules = PerMethod<Option<Arc<ip_rules::IpStage>>>;

/// The stages outside validation, built once and put over the invokers of every method they
/// apply to (a limit or a cache is the same one for all of them).
#[derive(Clone)]
struct OuterStages {
    cache: Option<Arc<cache::CacheStage>>,
    limits: Option<Arc<RateLimitStage>>,
    auth: Option<Arc<AuthStage>>,
    ip_rules: Option<Arc<ip_rules::IpStage>>,
}

impl OuterStages {
    fn over(&self, invoker: Invoker) -> Invoker {
        fn layer<T: Stage>(stage: &Option<Arc<T>>, invoker: Invoker) -> Invoker {
            match stage {
                Some(stage) => tower::Layer::layer(&StageLayer(stage.clone()), invoker),
                None => invoker,
            }
        }
        let invoker = layer(&self.cache, invoker);
        let invoker = layer(&self.limits, invoker);
        let invoker = layer(&self.auth, invoker);
        layer(&self.ip_rules, invoker)
    }
}

/// The gateway's authenticators, consumers and plans, checked once for every mapping.
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
    pub fn new(config: &LoadedConfig, diags: &mut Diagnostics) -> Security {
        let gateway = &config.gateway;
        let pos = |l: &Located<String>| config.pos(l);
        let secret = |l: &Located<String>, diags: &mut Diagnostics| {
            config::secret(
                l,
                pos(l),
                &config.base_dir,
                &config.files,
                &config.vars,
                diags,
            )
        };
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
            secret(l, diags).map(|s| auth::digest(s.as_bytes()))
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
                if let Some(secret) = secret(&hmac.secret, diags) {
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
            match authenticator(config, a, name, diags) {
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
            .and_then(|t| secret(t, diags))
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

    /// Wraps a mapping's invoker in its stages, from the inside out: transforms, validation,
    /// cache, rate limits, authentication (which names the consumer that limits may count
    /// by), IP rules (design.md section 7). Methods with `routes` settings get their own outer stages;
    /// transforms and validation are the mapping's for every method. Also gives the IP rules
    /// of each method.
    pub fn stages(
        &self,
        invoker: Invoker,
        mapping: &LoadedMapping,
        settings: StageSettings<'_>,
        routes: &Routes<'_>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> (Invoker, MethodIpRules) {
        // Inside the cache, so a cached reply is a transformed one and an invalid call never
        // fills the cache.
        let invoker = self.checked(invoker, settings, methods, diags);
        let own = self.outer_stages(settings, methods, diags);
        let mut ip_rules = PerMethod::new(own.ip_rules.clone());
        if routes.is_empty() {
            return (own.over(invoker), ip_rules);
        }
        let mut by_method = HashMap::new();
        for (method, route) in routes {
            let file = &mapping.file;
            let stages = OuterStages {
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

    /// The cache, rate limits, authentication and IP rules that `settings` ask for.
    fn outer_stages(
        &self,
        settings: StageSettings<'_>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> OuterStages {
        OuterStages {
            cache: (settings.cache).map(|cache| self.cache_stage(cache, methods, diags)),
            limits: self.limit_stage(settings.rate_limits, diags),
            auth: self.auth_stage(settings.auth, methods, diags),
            ip_rules: self.ip_stage(settings.ip_rules, diags),
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

    /// Wraps a mapping's invoker in its transforms, injection filtering and validation (the
    /// calls meet them in the other order).
    fn checked(
        &self,
        invoker: Invoker,
        settings: StageSettings<'_>,
        methods: &[MethodDescriptor],
        diags: &mut Diagnostics,
    ) -> Invoker {
        let transforms = transform::build(&settings.transforms, methods, &self.vars, diags);
        let invoker = if transforms.by_method.is_empty() {
            invoker
        } else {
            tower::Layer::layer(&StageLayer(Arc::new(transforms)), invoker)
        };
        let filter = settings.injection.and_then(|(config, file)| {
            injection::build(file, config, methods, self.injections.clone(), diags)
        });
        let invoker = match filter {
            Some(filter) => tower::Layer::layer(&StageLayer(Arc::new(filter)), invoker),
            None => invoker,
        };
        let validator = settings
            .validation
            .and_then(|(v, file)| validate::build(file, v, methods, diags));
        match validator {
            Some(validator) if validator.checks_any() => {
                tower::Layer::layer(&StageLayer(Arc::new(validator)), invoker)
            }
            _ => invoker,
        }
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
                None => diags.push(no_method(pos_in(file, selector), selector)),
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
                None => diags.push(no_method(pos(selector), selector)),
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

/// The one method of `methods` that `selector` names: by full name, or by its end
/// (`Users.GetUser`, `GetUser`).
pub fn named_method<'m>(
    selector: &str,
    methods: &'m [MethodDescriptor],
) -> Option<&'m MethodDescriptor> {
    let tail = format!(".{selector}");
    let mut found = methods
        .iter()
        .filter(|m| m.full_name() == selector || m.full_name().ends_with(&tail));
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// The diagnostic for a selector that names no single method.
pub fn no_method(at: config::Pos, selector: &str) -> Diagnostic {
    Diagnostic::at(
        &at,
        format!("`{selector}` names no single method of this mapping"),
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

/// An authenticator's method from its configuration.
fn authenticator(
    config: &LoadedConfig,
    a: &Located<AuthenticatorConfig>,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<Method> {
    let pos = |l: &Located<String>| config.pos(l);
    let placed = || config.pos(a);
    let given = [
        a.api_key.is_some(),
        a.basic.is_some(),
        a.jwt.is_some(),
        a.hmac.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        diags.push(Diagnostic::at(
            &placed(),
            format!("authenticator `{name}` needs exactly one of api_key, basic, jwt, hmac"),
        ));
        return None;
    }
    if let Some(api_key) = &a.api_key {
        let header = match &api_key.header {
            Some(h) => match HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()) {
                Ok(header) => header,
                Err(_) => {
                    diags.push(Diagnostic::at(&pos(h), "not a header name"));
                    return None;
                }
            },
            None => HeaderName::from_static("x-api-key"),
        };
        let query = api_key.query.as_ref().map(|q| q.value.clone());
        return Some(Method::ApiKey { header, query });
    }
    if let Some(basic) = &a.basic {
        let realm = basic.realm.clone().unwrap_or_else(|| "rosetta".into());
        return Some(Method::Basic { realm });
    }
    if let Some(hmac) = &a.hmac {
        let skew = hmac.clock_skew.map_or(Duration::from_secs(300), |d| d.0);
        return Some(Method::Hmac(auth::Hmac::new(skew, &hmac.headers)));
    }
    let jwt = a.jwt.as_ref()?;
    let mut algorithms = Vec::new();
    for text in &jwt.algorithms {
        match text.parse::<Algorithm>() {
            Ok(alg) => algorithms.push(alg),
            Err(_) => diags.push(Diagnostic::at(
                &pos(text),
                format!(
                    "`{}` is not a JWT algorithm (HS256, RS256, PS256, ES256, EdDSA, ...)",
                    text.value
                ),
            )),
        }
    }
    if jwt.algorithms.is_empty() {
        diags.push(Diagnostic::at(
            &placed(),
            format!("authenticator `{name}`: `algorithms` lists the algorithms tokens may use"),
        ));
    }
    let leeway = match &jwt.leeway {
        Some(l) if l.value.0 > Duration::from_secs(60) => {
            diags.push(Diagnostic::at(&config.pos(l), "the leeway is at most 60s"));
            return None;
        }
        Some(l) => l.value.0,
        None => Duration::from_secs(30),
    };
    let mut keys = Vec::new();
    for key in &jwt.keys {
        let made = match (&key.secret, &key.pem_file) {
            (Some(secret), None) => config::secret(
                secret,
                pos(secret),
                &config.base_dir,
                &config.files,
                &config.vars,
                diags,
            )
            .and_then(|s| DecodingKey::from_secret(s.as_bytes()).ok()),
            (None, Some(file)) => {
                let pem = config
                    .files
                    .read_to_string(&config.base_dir.join(&file.value))
                    .map_err(|e| {
                        diags.push(Diagnostic::at(
                            &pos(file),
                            format!("cannot read `{}`: {e}", file.value),
                        ))
                    })
                    .ok()?;
                let key = DecodingKey::from_rsa_pem(pem.as_bytes())
                    .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()))
                    .or_else(|_| DecodingKey::from_ed_pem(pem.as_bytes()));
                if key.is_err() {
                    diags.push(Diagnostic::at(
                        &pos(file),
                        "not a PEM RSA, EC or Ed25519 public key",
                    ));
                }
                key.ok()
            }
            _ => {
                diags.push(Diagnostic::at(
                    &placed(),
                    format!("authenticator `{name}`: a key has either `secret` or `pem_file`"),
                ));
                None
            }
        };
        keys.extend(made.map(|k| (key.kid.clone(), k)));
    }
    let jwks = jwt.jwks_url.as_ref().map(|url| {
        jwt::Jwks::new(
            url.value.clone(),
            jwt.jwks_refresh.map_or(Duration::from_secs(300), |d| d.0),
            jwt.jwks_min_refetch
                .map_or(Duration::from_secs(10), |d| d.0),
        )
    });
    if keys.is_empty() && jwks.is_none() {
        diags.push(Diagnostic::at(
            &placed(),
            format!("authenticator `{name}` has no `keys` and no `jwks_url`"),
        ));
    }
    Some(Method::Jwt(Arc::new(jwt::Jwt {
        algorithms,
        keys,
        jwks,
        issuer: jwt.issuer.as_ref().map(|i| i.value.clone()),
        audience: jwt.audience.iter().map(|a| a.value.clone()).collect(),
        leeway,
        require_exp: jwt.require_exp,
        consumer_claim: jwt.consumer_claim.clone().unwrap_or_else(|| "sub".into()),
    })))
}
