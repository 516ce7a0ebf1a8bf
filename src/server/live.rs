//! Live reload: the routers being served sit in a cell that a reload replaces whole; requests
//! already running finish on the routers they started on.

use std::sync::Arc;

/// The gateway being served, replaced whole on reload: requests already running finish on the
/// gateway they started on. The listener's limits are those it started with.
pub struct Live {
    app: std::sync::RwLock<axum::Router>,
    admin: std::sync::RwLock<axum::Router>,
    listener: super::Settings,
}

impl Live {
    /// Serves `app` on the public listener and `admin` on the admin one, with the listener's
    /// `settings`.
    pub fn new(app: axum::Router, admin: axum::Router, settings: super::Settings) -> Self {
        Live {
            app: std::sync::RwLock::new(app),
            admin: std::sync::RwLock::new(admin),
            listener: settings,
        }
    }

    /// Serves these routers from now on (a reload: new routes, new GraphQL schemas).
    pub fn replace(&self, app: axum::Router, admin: axum::Router) {
        for (lock, app) in [(&self.app, app), (&self.admin, admin)] {
            if let Ok(mut current) = lock.write() {
                *current = app;
            }
        }
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

fn read(lock: &std::sync::RwLock<axum::Router>) -> axum::Router {
    match lock.read() {
        Ok(app) => app.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl super::App for Live {
    fn current(&self) -> axum::Router {
        read(&self.app)
    }
}

/// The admin endpoints of the gateway being served.
struct AdminApp(Arc<Live>);

impl super::App for AdminApp {
    fn current(&self) -> axum::Router {
        read(&self.0.admin)
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
