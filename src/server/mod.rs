//! The HTTP listener: accepts connections, serves HTTP/1.1 and HTTP/2 (h2c) on each with
//! hyper, and holds every client to the limits an edge proxy has (docs/security.md):
//!
//! - connections: at most so many open at once, and so many per client address; one more is
//!   closed as soon as it is accepted;
//! - headers: a request's headers must arrive within `header_read_timeout` of its first byte
//!   (of the connection's start, for its first request);
//! - bodies: no pause longer than `body_idle_timeout`, and the whole body within
//!   `request_timeout` of the headers, else 408;
//! - keep-alive: a connection with no request in flight for `keep_alive_timeout` is closed;
//! - HTTP/1.1 requests carry exactly one valid `Host` (RFC 9112 section 3.2), else 400.
//!
//! Written here rather than taken from `axum::serve`, which has none of these: hyper's own
//! header timeout also runs while a kept-alive connection waits, so it cannot be told apart
//! from the keep-alive timeout.

pub(crate) mod handler;
mod live;

pub use live::{serve_live, Live};

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::config::model::LimitsConfig;
use crate::status::Status;

/// The limits of one listener, from gateway.yaml's `limits`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub header_read_timeout: Duration,
    pub body_idle_timeout: Duration,
    /// `None`: no bound on the whole body.
    pub request_timeout: Option<Duration>,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    /// `None`: no bound per client.
    pub max_connections_per_client: Option<usize>,
    /// Peers not held to the bound per client: the trusted proxies, whose connections carry
    /// many clients.
    pub proxies: Vec<ipnet::IpNet>,
}

impl Settings {
    pub fn new(limits: &LimitsConfig, proxies: &[ipnet::IpNet]) -> Self {
        Settings {
            proxies: proxies.to_vec(),
            header_read_timeout: limits.header_read_timeout.0,
            body_idle_timeout: limits.body_idle_timeout.0,
            request_timeout: Some(limits.request_timeout.0).filter(|d| !d.is_zero()),
            keep_alive_timeout: limits.keep_alive_timeout.0,
            max_connections: limits.max_connections,
            max_connections_per_client: Some(limits.max_connections_per_client).filter(|n| *n > 0),
        }
    }
}

/// What serves each request: the app of the gateway being served now.
pub trait App: Send + Sync + 'static {
    fn current(&self) -> axum::Router;
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish
/// their requests.
pub async fn serve(
    app: Arc<dyn App>,
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let open_files = raise_open_file_limit();
    let mut settings = settings;
    // Each connection is a file; leave room for backends, Redis and the files the gateway reads.
    let room = usize::try_from(open_files.saturating_sub(256)).unwrap_or(usize::MAX);
    if settings.max_connections > room {
        tracing::warn!(
            configured = settings.max_connections,
            allowed = room,
            "limits.max_connections is above what the open-file limit allows"
        );
        settings.max_connections = room;
    }
    let settings = Arc::new(settings);
    let admission = Arc::new(Admission::new(&settings));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files, or a connection that went away before it was accepted:
                    // nothing to do but try again (a short pause, so that a full file table
                    // does not spin the loop).
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(permit) = admission.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open connections");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (app, settings, stopped) = (app.clone(), settings.clone(), stopped.clone());
        tokio::spawn(connection(tcp, peer, permit, app, settings, stopped));
    }
    let _ = stop.send(true);
    // Every connection holds a receiver: all are gone when the channel closes.
    drop(stopped);
    stop.closed().await;
    Ok(())
}

/// Raises the soft limit of open files to the hard limit (once per process), and returns the
/// soft limit now in force.
fn raise_open_file_limit() -> u64 {
    static RAISED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RAISED.get_or_init(|| match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    })
}

/// How many connections are open, in all and per client address.
struct Admission {
    open: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    max: usize,
    max_per_client: Option<usize>,
    proxies: Vec<ipnet::IpNet>,
}

impl Admission {
    fn new(settings: &Settings) -> Self {
        Admission {
            open: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            max: settings.max_connections,
            max_per_client: settings.max_connections_per_client,
            proxies: settings.proxies.clone(),
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let client = client_of(ip);
        let counted = self
            .max_per_client
            .filter(|_| !self.proxies.iter().any(|p| p.contains(&ip)));
        if let Some(most) = counted {
            let mut per_client = self.per_client.lock().unwrap_or_else(|e| e.into_inner());
            let count = per_client.entry(client).or_insert(0);
            if *count >= most {
                drop(per_client);
                self.open.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            *count += 1;
        }
        Some(Permit {
            admission: self.clone(),
            client: counted.map(|_| client),
        })
    }
}

/// The address connections are counted by: an IPv6 client holds a whole /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

/// One admitted connection, counted until it is dropped (with its socket, also after an
/// upgrade to WebSocket).
struct Permit {
    admission: Arc<Admission>,
    /// The address counted against the bound per client, if one was.
    client: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(client) = self.client {
            let mut per_client = self
                .admission
                .per_client
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(count) = per_client.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    per_client.remove(&client);
                }
            }
        }
    }
}

/// What a connection is doing, for its watchdog: requests in flight, and since when it waits.
struct Activity {
    start: Instant,
    /// Requests whose response has not been sent whole.
    busy: AtomicUsize,
    /// Milliseconds since `start` when the last request ended (0: none yet).
    idle_since: AtomicU64,
    /// Milliseconds since `start` of the first byte read while idle: the start of a request's
    /// headers. `NO_BYTE` while none came.
    first_byte: AtomicU64,
    /// The connection speaks HTTP/2, whose reads while idle are frames, not headers.
    http2: AtomicBool,
}

const NO_BYTE: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            // The first request's headers are timed from the connection's start.
            first_byte: AtomicU64::new(0),
            http2: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn read(&self) {
        if self.busy.load(Ordering::Relaxed) == 0
            && self.first_byte.load(Ordering::Relaxed) == NO_BYTE
        {
            self.first_byte.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.busy.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When the watchdog must close the connection, if nothing changes before then.
    fn deadline(&self, settings: &Settings) -> Option<(u64, Expiry)> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        let first_byte = self.first_byte.load(Ordering::Acquire);
        if first_byte != NO_BYTE && !self.http2.load(Ordering::Relaxed) {
            let timeout = settings.header_read_timeout.as_millis() as u64;
            return Some((first_byte.saturating_add(timeout), Expiry::Headers));
        }
        let timeout = settings.keep_alive_timeout.as_millis() as u64;
        let idle_since = self.idle_since.load(Ordering::Acquire);
        Some((idle_since.saturating_add(timeout), Expiry::Idle))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    /// A request's headers did not arrive in time: the connection is dropped.
    Headers,
    /// Nothing in flight for too long: the connection is shut down gracefully.
    Idle,
}

/// A request in flight, until its response body is done.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.first_byte.store(NO_BYTE, Ordering::Release);
            activity
                .idle_since
                .store(activity.now_ms(), Ordering::Release);
        }
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    permit: Permit,
    app: Arc<dyn App>,
    settings: Arc<Settings>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        tcp,
        activity: activity.clone(),
        checked_preface: false,
        _permit: permit,
    });
    let service = {
        let (activity, settings) = (activity.clone(), settings.clone());
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = activity.begin();
            let app = app.current();
            let settings = settings.clone();
            async move {
                let response = handle(app, request, peer, &settings).await;
                Ok::<_, std::convert::Infallible>(response.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // The watchdog times headers: hyper's own timer would also run while the connection waits.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let served = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);
    // The watchdog looks again at least this often, so that a deadline set while it slept
    // is never missed by more than its own length.
    let look_again = settings
        .header_read_timeout
        .min(settings.keep_alive_timeout)
        .max(Duration::from_millis(20))
        / 2;
    let mut shutting_down = false;
    loop {
        let now = activity.now_ms();
        let wake = match activity.deadline(&settings) {
            Some((due, expiry)) if due <= now => {
                if expiry == Expiry::Headers {
                    return;
                }
                if !shutting_down {
                    shutting_down = true;
                    served.as_mut().graceful_shutdown();
                }
                Instant::now() + look_again
            }
            Some((due, _)) => {
                activity.start
                    + Duration::from_millis(due).min(Duration::from_millis(now) + look_again)
            }
            None => Instant::now() + look_again,
        };
        tokio::select! {
            _ = served.as_mut() => return,
            () = tokio::time::sleep_until(wake) => {}
            changed = stopped.changed(), if !shutting_down => {
                if changed.is_ok() || *stopped.borrow() {
                    shutting_down = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// One request: the `Host` check, the client's address, the body's timeouts, then the app.
async fn handle(
    app: axum::Router,
    request: Request<Incoming>,
    peer: SocketAddr,
    settings: &Settings,
) -> Response<Body> {
    use tower::ServiceExt;
    if let Err(why) = check_host(&request) {
        let status = Status::invalid_argument(why);
        let pool = prost_reflect::DescriptorPool::new();
        return crate::frontend::rest::response::error(&status, &pool);
    }
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    // A gRPC stream may be quiet for as long as it likes; its calls have deadlines instead.
    let streams = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/grpc"));
    let body = if streams || body.is_end_stream() {
        Body::new(body)
    } else {
        Body::new(Timed {
            body,
            idle: settings.body_idle_timeout,
            deadline: settings.request_timeout.map(|t| Instant::now() + t),
            timer: None,
            progressed: true,
        })
    };
    match app.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// RFC 9112 section 3.2: an HTTP/1.1 request has exactly one `Host`, and it is an authority.
fn check_host<B>(request: &Request<B>) -> Result<(), &'static str> {
    if request.version() != http::Version::HTTP_11 {
        return Ok(());
    }
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => Err("the request has no Host header"),
        (Some(_), Some(_)) => Err("the request has more than one Host header"),
        (Some(host), None) => {
            let valid = host.is_empty()
                || (host.as_bytes().iter().all(|b| b.is_ascii_graphic())
                    && host
                        .to_str()
                        .ok()
                        .and_then(|h| h.parse::<http::uri::Authority>().ok())
                        .is_some_and(|a| !a.as_str().contains('@')));
            if valid {
                Ok(())
            } else {
                Err("the request's Host header is not a host")
            }
        }
    }
}

/// The socket, telling the connection's activity when bytes arrive.
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
    checked_preface: bool,
    _permit: Permit,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            if !self.checked_preface {
                self.checked_preface = true;
                if buf.filled()[before..].starts_with(b"PRI * HTTP/2.0") {
                    self.activity.http2.store(true, Ordering::Relaxed);
                }
            }
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The error of a request body sent too slowly (a 408 where the body is read).
#[derive(Debug, thiserror::Error)]
#[error("the request body was not sent in time")]
pub struct BodyTimedOut;

/// A request body held to the idle and whole-body timeouts. The timer is made only when a
/// read has to wait, so a body that arrives with its headers costs nothing.
struct Timed {
    body: Incoming,
    idle: Duration,
    deadline: Option<Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Data came since the timer was last set.
    progressed: bool,
}

impl HttpBody for Timed {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.progressed = true;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.progressed {
                    this.progressed = false;
                    let idle_until = Instant::now() + this.idle;
                    let due = this.deadline.map_or(idle_until, |d| d.min(idle_until));
                    match &mut this.timer {
                        Some(timer) => timer.as_mut().reset(due),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(due))),
                    }
                }
                match this.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
                    _ => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether a body error is, or was caused by, [`BodyTimedOut`].
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers() {
        let request = |hosts: &[&str]| {
            let mut builder = Request::builder().uri("/");
            for host in hosts {
                builder = builder.header("host", *host);
            }
            builder.body(()).unwrap()
        };
        assert!(check_host(&request(&["example.com"])).is_ok());
        assert!(check_host(&request(&["127.0.0.1:8080"])).is_ok());
        assert!(check_host(&request(&["[::1]:80"])).is_ok());
        assert!(check_host(&request(&[])).is_err());
        assert!(check_host(&request(&["a", "b"])).is_err());
        assert!(check_host(&request(&["a b"])).is_err());
        assert!(check_host(&request(&["user@host"])).is_err());
        assert!(check_host(&request(&["host/path"])).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_64() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(client_of(a), client_of(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_of(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
