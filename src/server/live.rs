//! Live reload: the routers being served sit in a cell that a reload replaces whole; requests
//! already running finish on the routers they started on.

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;

/// The gateway being served, replaced whole on reload: requests already running finish on the
/// gateway they started on. The listener's limits are those it started with. Every request
/// reads the routers, so they sit in an `ArcSwap` (one atomic load) rather than a lock.
pub struct Live {
    app: ArcSwap<Router>,
    admin: ArcSwap<Router>,
    listener: super::Settings,
}

impl Live {
    /// Serves `app` on the public listener and `admin` on the admin one, with the listener's
    /// `settings`.
    pub fn new(app: Router, admin: Router, settings: super::Settings) -> Self {
        Live {
            app: ArcSwap::from_pointee(app),
            admin: ArcSwap::from_pointee(admin),
            listener: settings,
        }
    }

    /// Serves these routers from now on (a reload: new routes, new GraphQL schemas).
    pub fn replace(&self, app: Router, admin: Router) {
        self.app.store(Arc::new(app));
        self.admin.store(Arc::new(admin));
    }

    /// Serves the admin endpoints of whatever gateway `live` holds on `listener`.
    pub async fn serve_admin(
        live: Arc<Live>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let settings = live.listener.clone();
        super::serve(Arc::new(AdminApp(live)), listener, settings, shutdown).await
    }
}

impl super::App for Live {
    fn current(&self) -> Router {
        Router::clone(&self.app.load())
    }
}

/// The admin endpoints of the gateway being served.
struct AdminApp(Arc<Live>);

impl super::App for AdminApp {
    fn current(&self) -> Router {
        Router::clone(&self.0.admin.load())
    }
}

/// Serves whatever gateway `live` holds on `listener` until `shutdown` completes.
pub async fn serve_live(
    live: Arc<Live>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = live.listener.clone();
    super::serve(live, listener, settings, shutdown).await
}
