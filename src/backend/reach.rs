//! Whether backends can be reached, said in rosetta's own words: a probe (`rosetta check
//! --connect`, and `serve` at start), and a warning when calls fail to connect. The client
//! only ever sees UNAVAILABLE; the log says which address and why.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a backend did not answer a probe, in words for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(String);

/// Whether a TCP connection to the backend at `address` (a URL, or host:port) opens within
/// `timeout`; why not otherwise.
pub(crate) async fn probe(address: &str, timeout: Duration) -> Result<(), ProbeError> {
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let url = reqwest::Url::parse(&url)
        .map_err(|e| ProbeError(format!("`{address}` is not an address: {e}")))?;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ProbeError(format!("cannot connect to {host}:{port}: {e}"))),
        Err(_) => Err(ProbeError(format!(
            "cannot connect to {host}:{port}: no answer within {} s",
            timeout.as_secs()
        ))),
    }
}

/// Warnings about one backend's failed connections, at most one every few seconds (a down
/// backend under load would otherwise write a line per call), with how many were left out.
pub(crate) struct Unreachable {
    address: String,
    since: Instant,
    /// When the last warning was written, in ms since `since`, plus one (0: never).
    last: AtomicU64,
    quiet: AtomicU64,
}

const EVERY_MS: u64 = 5_000;

impl Unreachable {
    pub(crate) fn new(address: &str) -> Self {
        Unreachable {
            address: address.to_owned(),
            since: Instant::now(),
            last: AtomicU64::new(0),
            quiet: AtomicU64::new(0),
        }
    }

    /// `e`, its URL left out; a failed connection is warned about first.
    pub(crate) fn seen(&self, e: reqwest::Error) -> reqwest::Error {
        let e = e.without_url();
        if e.is_connect() {
            self.failed(&e);
        }
        e
    }

    /// A call could not reach the backend, for `cause` (its whole chain is written).
    pub(crate) fn failed(&self, cause: &(dyn std::error::Error + 'static)) {
        let now = self.since.elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= EVERY_MS;
        if !due
            || self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.quiet.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut why = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            let text = next.to_string();
            if !why.contains(&text) {
                why = format!("{why}: {text}");
            }
            source = next.source();
        }
        let quiet = self.quiet.swap(0, Ordering::Relaxed);
        let more = if quiet > 0 {
            format!(" ({quiet} more failed calls since the last warning)")
        } else {
            String::new()
        };
        tracing::warn!(target: "rosetta::backend", "cannot reach the backend at {}: {why}{more}", self.address);
    }
}
