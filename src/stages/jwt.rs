//! JWT bearer tokens, verified by the `jsonwebtoken` crate: algorithms pinned by configuration
//! (a token's `alg` is believed only when configured, and must suit the key's family), `exp`
//! required by default, `nbf`, `iss` and `aud` checked, leeway at most 60 s. Keys come from the
//! configuration and from a JWKS endpoint, fetched in the background and cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::auth::Credentials;
use crate::call::Consumer;
use crate::config::{Diagnostic, Diagnostics, JwtConfig, JwtKeyConfig, LoadedConfig, Located, Pos};

pub struct Jwt {
    pub algorithms: Vec<Algorithm>,
    /// Keys of the configuration: (kid, key).
    pub keys: Vec<(Option<String>, DecodingKey)>,
    pub jwks: Option<Arc<Jwks>>,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub leeway: Duration,
    pub require_exp: bool,
    pub consumer_claim: String,
}

impl Jwt {
    /// A JWT authenticator from its configuration (`at` is the authenticator's place).
    pub fn from_config(
        config: &LoadedConfig,
        jwt: &JwtConfig,
        at: &Pos,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Option<Jwt> {
        let mut algorithms = Vec::new();
        for text in &jwt.algorithms {
            match text.parse::<Algorithm>() {
                Ok(alg) => algorithms.push(alg),
                Err(_) => diags.push(Diagnostic::at(
                    &config.pos(text),
                    format!(
                        "`{}` is not a JWT algorithm (HS256, RS256, PS256, ES256, EdDSA, ...)",
                        text.value
                    ),
                )),
            }
        }
        if jwt.algorithms.is_empty() {
            diags.push(Diagnostic::at(
                at,
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
        let keys: Vec<_> = (jwt.keys.iter())
            .filter_map(|key| Some((key.kid.clone(), decoding_key(config, key, at, name, diags)?)))
            .collect();
        let jwks = jwt.jwks_url.as_ref().map(|url| {
            Jwks::new(
                url.value.clone(),
                jwt.jwks_refresh.map_or(Duration::from_secs(300), |d| d.0),
                jwt.jwks_min_refetch
                    .map_or(Duration::from_secs(10), |d| d.0),
            )
        });
        if keys.is_empty() && jwks.is_none() {
            diags.push(Diagnostic::at(
                at,
                format!("authenticator `{name}` has no `keys` and no `jwks_url`"),
            ));
        }
        Some(Jwt {
            algorithms,
            keys,
            jwks,
            issuer: jwt.issuer.as_ref().map(|i| i.value.clone()),
            audience: jwt.audience.iter().map(|a| a.value.clone()).collect(),
            leeway,
            require_exp: jwt.require_exp,
            consumer_claim: jwt.consumer_claim.clone().unwrap_or_else(|| "sub".into()),
        })
    }

    /// The token's claims, if it is valid; otherwise why not (for the debug log only).
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "unreadable header")?;
        if !self.algorithms.contains(&header.alg) {
            return Err("an algorithm the configuration does not allow");
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        // jsonwebtoken checks `iss` and `aud` only when the token has them: a configured
        // issuer or audience makes the claim required.
        let required = [
            ("exp", self.require_exp),
            ("iss", self.issuer.is_some()),
            ("aud", !self.audience.is_empty()),
        ];
        let required: Vec<&str> = required
            .iter()
            .filter(|(_, wanted)| *wanted)
            .map(|(claim, _)| *claim)
            .collect();
        validation.set_required_spec_claims(&required);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        if self.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
        }
        let family = header.alg.family();
        let mut candidates: Vec<DecodingKey> = self
            .keys
            .iter()
            .filter(|(kid, key)| kid == &header.kid && key.family() == family)
            .map(|(_, key)| key.clone())
            .collect();
        if let Some(jwks) = &self.jwks {
            candidates.extend(jwks.keys_for(header.kid.as_deref(), header.alg).await);
        }
        if candidates.is_empty() {
            return Err("no key for the token's kid and algorithm");
        }
        let mut why = "the signature or claims are not valid";
        for key in &candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind;
                    why = match e.kind() {
                        ErrorKind::ExpiredSignature => "expired",
                        ErrorKind::ImmatureSignature => "not valid yet (nbf)",
                        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                        ErrorKind::InvalidIssuer => "wrong issuer",
                        ErrorKind::InvalidAudience => "wrong audience",
                        _ => why,
                    };
                }
            }
        }
        Err(why)
    }

    /// The consumer a token names: a configured one (its plan and metadata, with the claims
    /// added), or one known only by the token.
    pub fn consumer(&self, claims: Map<String, Value>, credentials: &Credentials) -> Arc<Consumer> {
        let id = match claims.get(&self.consumer_claim) {
            Some(Value::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let mut consumer = credentials
            .consumers
            .get(&id)
            .map(|c| (**c).clone())
            .unwrap_or(Consumer {
                id,
                ..Consumer::default()
            });
        consumer.metadata.extend(claims);
        Arc::new(consumer)
    }
}

/// A configured key: a shared secret, or a PEM public key read from its file.
fn decoding_key(
    config: &LoadedConfig,
    key: &JwtKeyConfig,
    at: &Pos,
    name: &str,
    diags: &mut Diagnostics,
) -> Option<DecodingKey> {
    let pos = |l: &Located<String>| config.pos(l);
    match (&key.secret, &key.pem_file) {
        (Some(secret), None) => {
            (config.secret(secret, diags)).and_then(|s| DecodingKey::from_secret(s.as_bytes()).ok())
        }
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
                at,
                format!("authenticator `{name}`: a key has either `secret` or `pem_file`"),
            ));
            None
        }
    }
}

/// A JWKS endpoint's keys: fetched on first use and then in the background before they are
/// `refresh` old, once more (at most every `min_refetch`) for a `kid` they lack; the last good
/// keys stay while the endpoint fails.
pub struct Jwks {
    pub url: String,
    pub client: reqwest::Client,
    pub refresh: Duration,
    pub min_refetch: Duration,
    keys: RwLock<Option<(Instant, Arc<JwksKeys>)>>,
    last_attempt: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
}

/// Keys by kid (keys without one under ""), with the algorithm the JWK names, if any.
type JwksKeys = HashMap<String, Vec<(Option<Algorithm>, DecodingKey)>>;

impl Jwks {
    pub fn new(url: String, refresh: Duration, min_refetch: Duration) -> Arc<Jwks> {
        Arc::new(Jwks {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            refresh,
            min_refetch,
            keys: RwLock::new(None),
            last_attempt: Mutex::new(None),
            refreshing: AtomicBool::new(false),
        })
    }

    fn cached(&self) -> Option<(Instant, Arc<JwksKeys>)> {
        self.keys.read().ok().and_then(|keys| keys.clone())
    }

    /// The keys that may have signed a token with `kid` and `alg`.
    async fn keys_for(self: &Arc<Self>, kid: Option<&str>, alg: Algorithm) -> Vec<DecodingKey> {
        let keys = match self.cached() {
            Some((fetched, keys)) => {
                if fetched.elapsed() > self.refresh * 4 / 5 {
                    self.refresh_in_background();
                }
                let known = kid.is_none_or(|kid| keys.contains_key(kid));
                if known {
                    keys
                } else {
                    // A key the cache lacks (rotated in since): one rate-limited refetch.
                    self.fetch_if_allowed().await.unwrap_or(keys)
                }
            }
            None => match self.fetch_if_allowed().await {
                Some(keys) => keys,
                None => return Vec::new(),
            },
        };
        let matching = |(key_alg, key): &(Option<Algorithm>, DecodingKey)| {
            (key_alg.is_none_or(|a| a == alg) && key.family() == alg.family()).then(|| key.clone())
        };
        match kid {
            Some(kid) => keys
                .get(kid)
                .into_iter()
                .flatten()
                .filter_map(matching)
                .collect(),
            None => keys.values().flatten().filter_map(matching).collect(),
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let jwks = self.clone();
        tokio::spawn(async move {
            jwks.fetch().await;
            jwks.refreshing.store(false, Ordering::SeqCst);
        });
    }

    /// Fetches unless the last attempt was less than `min_refetch` ago; the keys held after.
    async fn fetch_if_allowed(&self) -> Option<Arc<JwksKeys>> {
        let allowed = {
            let mut last = self.last_attempt.lock().ok()?;
            let allowed = last.is_none_or(|at| at.elapsed() >= self.min_refetch);
            if allowed {
                *last = Some(Instant::now());
            }
            allowed
        };
        if allowed {
            self.fetch().await;
        }
        self.cached().map(|(_, keys)| keys)
    }

    /// Fetches the set; on failure the keys held stay (and the failure is logged).
    async fn fetch(&self) {
        match self.download().await {
            Ok(keys) => {
                if let Ok(mut held) = self.keys.write() {
                    *held = Some((Instant::now(), Arc::new(keys)));
                }
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "cannot fetch the JWKS; keeping the keys held")
            }
        }
    }

    async fn download(&self) -> Result<JwksKeys, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let set: JwkSet = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let mut keys = JwksKeys::new();
        for jwk in &set.keys {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            keys.entry(kid).or_default().push((alg, key));
        }
        Ok(keys)
    }
}
