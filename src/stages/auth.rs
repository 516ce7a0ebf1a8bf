//! Authentication (design.md section 7): API keys, HTTP Basic, JWT bearer tokens and HMAC
//! request signatures, several per mapping with "any of" semantics. It reads credentials from
//! the call's origin (every header, whatever the frontend), names the consumer, checks the
//! consumer's plan, and forwards the consumer to the backend as metadata.
//!
//! 401 carries a `WWW-Authenticate` challenge per authenticator and never says whether a key
//! or user exists; 403 is for a consumer whose plan does not allow the method.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::ConstantTimeEq;

use super::jwt::Jwt;
use crate::call::{Call, Consumer, Origin, Reply};
use crate::config::{AuthenticatorConfig, Diagnostic, Diagnostics, LoadedConfig, Located};
use crate::status::Status;

/// SHA-256, the form API keys and passwords are kept in.
pub fn digest(secret: &[u8]) -> [u8; 32] {
    let hash = ring::digest::digest(&ring::digest::SHA256, secret);
    let mut out = [0; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

/// The consumers' credentials, as the authenticators match them.
#[derive(Default)]
pub struct Credentials {
    pub api_keys: Vec<([u8; 32], Arc<Consumer>)>,
    /// (user name, password digest, consumer)
    pub basic: Vec<(String, [u8; 32], Arc<Consumer>)>,
    /// By key id: the HMAC key and the consumer.
    pub hmac: HashMap<String, (ring::hmac::Key, Arc<Consumer>)>,
    /// Every consumer by id (a JWT names one by a claim).
    pub consumers: HashMap<String, Arc<Consumer>>,
}

/// One way to authenticate.
pub enum Method {
    ApiKey {
        header: HeaderName,
        query: Option<String>,
    },
    Basic {
        realm: String,
    },
    Jwt(Arc<Jwt>),
    Hmac(Hmac),
}

pub struct Authenticator {
    pub name: String,
    pub method: Method,
}

/// What an authenticator made of a request.
enum Verdict {
    /// The request has no credentials of this kind.
    Absent,
    Accepted(Arc<Consumer>),
    /// Credentials of this kind that are wrong (the 401 says only that).
    Rejected,
}

impl Authenticator {
    async fn verdict(&self, origin: &Origin, credentials: &Credentials) -> Verdict {
        match &self.method {
            Method::ApiKey { header, query } => {
                let key = origin
                    .headers
                    .get(header)
                    .map(|v| v.as_bytes().to_vec())
                    .or_else(|| query_value(&origin.uri, query.as_deref()?));
                let Some(key) = key else {
                    return Verdict::Absent;
                };
                let presented = digest(&key);
                // Every stored digest is compared, in constant time.
                let mut found = None;
                for (stored, consumer) in &credentials.api_keys {
                    if bool::from(stored.ct_eq(&presented)) {
                        found = Some(consumer.clone());
                    }
                }
                found.map_or(Verdict::Rejected, Verdict::Accepted)
            }
            Method::Basic { .. } => {
                let Some(encoded) = authorization(&origin.headers, "basic") else {
                    return Verdict::Absent;
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
                else {
                    return Verdict::Rejected;
                };
                let presented = digest(password.as_bytes());
                let mut found = None;
                for (name, stored, consumer) in &credentials.basic {
                    let same = bool::from(stored.ct_eq(&presented));
                    if same && name == user {
                        found = Some(consumer.clone());
                    }
                }
                found.map_or(Verdict::Rejected, Verdict::Accepted)
            }
            Method::Jwt(jwt) => {
                let Some(token) = authorization(&origin.headers, "bearer") else {
                    return Verdict::Absent;
                };
                match jwt.verify(token).await {
                    Ok(claims) => Verdict::Accepted(jwt.consumer(claims, credentials)),
                    Err(why) => {
                        tracing::debug!(authenticator = %self.name, why, "token refused");
                        Verdict::Rejected
                    }
                }
            }
            Method::Hmac(hmac) => {
                let Some(parameters) = authorization(&origin.headers, "signature") else {
                    return Verdict::Absent;
                };
                match hmac.verify(parameters, origin, credentials) {
                    Ok(consumer) => Verdict::Accepted(consumer),
                    Err(why) => {
                        tracing::debug!(authenticator = %self.name, why, "signature refused");
                        Verdict::Rejected
                    }
                }
            }
        }
    }

    /// The `WWW-Authenticate` challenge of this method; `rejected` when credentials of its kind
    /// were presented and refused.
    fn challenge(&self, rejected: bool) -> String {
        match &self.method {
            Method::ApiKey { header, .. } => format!("ApiKey header=\"{header}\""),
            Method::Basic { realm } => format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
            // RFC 6750: no error code when no token came; invalid_token when one was refused.
            Method::Jwt(_) if rejected => {
                "Bearer realm=\"rosetta\", error=\"invalid_token\"".to_owned()
            }
            Method::Jwt(_) => "Bearer realm=\"rosetta\"".to_owned(),
            Method::Hmac(hmac) => format!(
                "Signature realm=\"rosetta\", headers=\"{}\"",
                hmac.required.join(" ")
            ),
        }
    }
}

/// The value of `Authorization: <scheme> <value>` (the scheme in any case).
fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn query_value(uri: &http::Uri, name: &str) -> Option<Vec<u8>> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_bytes().to_vec())
}

/// HMAC request signatures in the form of draft-cavage-http-signatures:
/// `Authorization: Signature keyId="k1",algorithm="hmac-sha256",
/// headers="(request-target) date digest",signature="<base64>"`. The signing string is one
/// `name: value` line per listed header, `(request-target)` being `method path?query`. A
/// request with a body must sign a `Digest: SHA-256=<base64>` of it; the date must be within
/// the clock skew; a signature is accepted once (replays within the window are refused).
pub struct Hmac {
    pub clock_skew: Duration,
    /// What every signature must cover (besides `digest` for a body).
    pub required: Vec<String>,
    /// Signatures already accepted, until they are too old to be replayed anyway.
    pub seen: moka::sync::Cache<String, ()>,
}

impl Hmac {
    pub fn new(clock_skew: Duration, extra: &[String]) -> Hmac {
        let mut required = vec!["(request-target)".to_owned(), "date".to_owned()];
        required.extend(extra.iter().map(|h| h.to_ascii_lowercase()));
        Hmac {
            clock_skew,
            required,
            seen: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(clock_skew * 2)
                .build(),
        }
    }

    fn verify(
        &self,
        parameters: &str,
        origin: &Origin,
        credentials: &Credentials,
    ) -> Result<Arc<Consumer>, &'static str> {
        let fields = signature_parameters(parameters);
        let field = |name: &str| fields.get(name).copied();
        let key_id = field("keyId").ok_or("no keyId")?;
        if !matches!(field("algorithm"), None | Some("hmac-sha256")) {
            return Err("the algorithm is not hmac-sha256");
        }
        let signed: Vec<&str> = field("headers")
            .unwrap_or("date")
            .split_ascii_whitespace()
            .collect();
        let signs = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
        for required in &self.required {
            // `x-date` stands in for `date` (browsers may not set `Date`).
            let covered = signs(required) || (required == "date" && signs("x-date"));
            if !covered {
                return Err("the signature does not cover the required headers");
            }
        }
        // A streamed body (gRPC) is never whole here, so its digest cannot be checked.
        let body = origin
            .body
            .as_deref()
            .ok_or("a streamed request's body cannot be signed")?;
        if !body.is_empty() {
            if !signs("digest") {
                return Err("the signature does not cover the body's digest");
            }
            let expected = format!(
                "SHA-256={}",
                base64::engine::general_purpose::STANDARD.encode(digest(body))
            );
            let given = origin.headers.get("digest").map(HeaderValue::as_bytes);
            if given != Some(expected.as_bytes()) {
                return Err("the digest does not match the body");
            }
        }
        let date = origin
            .headers
            .get("x-date")
            .or_else(|| origin.headers.get(http::header::DATE))
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .ok_or("no readable Date or X-Date")?;
        let now = SystemTime::now();
        let skew = now.duration_since(date).unwrap_or_else(|e| e.duration());
        if skew > self.clock_skew {
            return Err("the date is outside the clock skew");
        }
        let mut lines = Vec::with_capacity(signed.len());
        for name in &signed {
            let name = name.to_ascii_lowercase();
            let value = if name == "(request-target)" {
                let target = origin.uri.path_and_query().map_or("/", |p| p.as_str());
                format!("{} {target}", origin.method.as_str().to_ascii_lowercase())
            } else {
                let values: Vec<&str> = origin
                    .headers
                    .get_all(name.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                if values.is_empty() {
                    return Err("a signed header is missing");
                }
                values.join(", ")
            };
            lines.push(format!("{name}: {value}"));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(field("signature").ok_or("no signature")?)
            .map_err(|_| "the signature is not base64")?;
        let (key, consumer) = credentials.hmac.get(key_id).ok_or("unknown keyId")?;
        ring::hmac::verify(key, lines.join("\n").as_bytes(), &signature)
            .map_err(|_| "the signature does not match")?;
        let replay_key = format!("{key_id}/{}", field("signature").unwrap_or_default());
        if self.seen.contains_key(&replay_key) {
            return Err("the signature was used before");
        }
        self.seen.insert(replay_key, ());
        Ok(consumer.clone())
    }
}

/// `keyId="k1",algorithm="hmac-sha256",...` as a map (values unquoted).
fn signature_parameters(text: &str) -> HashMap<&str, &str> {
    text.split(',')
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.trim(), value.trim().trim_matches('"')))
        })
        .collect()
}

/// The authentication of one mapping: its authenticators, public methods, plans and what is
/// forwarded to the backend.
pub struct AuthStage {
    pub authenticators: Vec<Arc<Authenticator>>,
    pub credentials: Arc<Credentials>,
    /// Methods (full names) served without authentication.
    pub public: HashSet<String>,
    /// Plans by name: the method selectors they allow (empty: all).
    pub plans: Arc<HashMap<String, Vec<String>>>,
    pub forward_consumer: Option<HeaderName>,
    /// Consumer metadata or claims sent as headers.
    pub forward_claims: Vec<(String, HeaderName)>,
}

impl AuthStage {
    /// Names the call's consumer, or refuses the call.
    async fn admit(&self, call: &mut Call) -> Result<(), Status> {
        let method = call.operation.method.full_name();
        if self.public.contains(method) {
            return Ok(());
        }
        let mut rejected = Vec::with_capacity(self.authenticators.len());
        for authenticator in &self.authenticators {
            match authenticator.verdict(&call.origin, &self.credentials).await {
                Verdict::Accepted(consumer) => {
                    self.allowed(&consumer, method)?;
                    tracing::debug!(consumer = %consumer.id, by = %authenticator.name, method, "authenticated");
                    super::access_log::record_consumer(&consumer.id);
                    self.forward(&consumer, &mut call.metadata);
                    call.consumer = Some(consumer);
                    return Ok(());
                }
                Verdict::Absent => rejected.push(false),
                Verdict::Rejected => rejected.push(true),
            }
        }
        let mut status = Status::unauthenticated(if rejected.contains(&true) {
            "the credentials are not valid"
        } else {
            "credentials are required"
        });
        for (authenticator, rejected) in self.authenticators.iter().zip(rejected) {
            if let Ok(value) = HeaderValue::from_str(&authenticator.challenge(rejected)) {
                status = status.with_header(http::header::WWW_AUTHENTICATE, value);
            }
        }
        Err(status)
    }

    fn allowed(&self, consumer: &Consumer, method: &str) -> Result<(), Status> {
        let Some(selectors) = consumer.plan.as_ref().and_then(|p| self.plans.get(p)) else {
            return Ok(());
        };
        let allowed = selectors.is_empty()
            || selectors
                .iter()
                .any(|selector| match selector.strip_suffix('*') {
                    Some(prefix) => method.starts_with(prefix),
                    None => method == selector || method.ends_with(&format!(".{selector}")),
                });
        if allowed {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "the consumer's plan does not allow {method}"
            )))
        }
    }

    fn forward(&self, consumer: &Consumer, metadata: &mut HeaderMap) {
        if let Some(header) = &self.forward_consumer {
            if let Ok(value) = HeaderValue::from_str(&consumer.id) {
                metadata.insert(header.clone(), value);
            }
        }
        for (claim, header) in &self.forward_claims {
            let text = match consumer.metadata.get(claim) {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            if let Ok(value) = HeaderValue::from_str(&text) {
                metadata.insert(header.clone(), value);
            }
        }
    }
}

impl super::Stage for AuthStage {
    fn call(
        self: Arc<Self>,
        mut call: Call,
        next: crate::call::Invoker,
    ) -> BoxFuture<'static, Result<Reply, Status>> {
        Box::pin(async move {
            self.admit(&mut call).await?;
            tower::ServiceExt::oneshot(next, call).await
        })
    }
}

/// An authenticator's method from its configuration.
pub(super) fn method(
    config: &LoadedConfig,
    a: &Located<AuthenticatorConfig>,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<Method> {
    let given = [
        a.api_key.is_some(),
        a.basic.is_some(),
        a.jwt.is_some(),
        a.hmac.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        diags.push(Diagnostic::at(
            &config.pos(a),
            format!("authenticator `{name}` needs exactly one of api_key, basic, jwt, hmac"),
        ));
        return None;
    }
    if let Some(api_key) = &a.api_key {
        let header = match &api_key.header {
            Some(h) => match HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()) {
                Ok(header) => header,
                Err(_) => {
                    diags.push(Diagnostic::at(&config.pos(h), "not a header name"));
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
        return Some(Method::Hmac(Hmac::new(skew, &hmac.headers)));
    }
    let jwt = a.jwt.as_ref()?;
    Jwt::from_config(config, jwt, &config.pos(a), name, diags).map(|jwt| Method::Jwt(Arc::new(jwt)))
}
