//! A local HTTP server for runs that must wait: `/hold` answers only once released, and so does
//! every `/npm/…` path (a module CDN in jsDelivr's layout whose modules are `export const v = 42;`).

use std::time::Duration;

/// A local HTTP server whose `/hold` answers `released` only once [`Hold::release`] is called.
pub struct Hold {
    pub url: String,
    /// Its origin, to serve as a module CDN (`actions.modules_cdn`).
    pub origin: String,
    arrived: tokio::sync::watch::Receiver<usize>,
    open: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Hold {
    pub async fn start() -> Self {
        let (arrivals, arrived) = tokio::sync::watch::channel(0usize);
        let arrivals = std::sync::Arc::new(arrivals);
        let open = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let gate_sender = open.clone();
        let held = move |answer: &'static str, content_type: &'static str| {
            let (arrivals, gate) = (arrivals.clone(), open.clone());
            move || {
                arrivals.send_modify(|n| *n += 1);
                let mut open = gate.subscribe();
                async move {
                    open.wait_for(|open| *open).await.unwrap();
                    ([(axum::http::header::CONTENT_TYPE, content_type)], answer)
                }
            }
        };
        let app = axum::Router::new()
            .route("/hold", axum::routing::get(held("released", "text/plain")))
            .route(
                "/npm/{*module}",
                axum::routing::get(held(
                    "export const v = 42;",
                    "application/javascript; charset=utf-8",
                )),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("{origin}/hold"),
            origin,
            arrived,
            open: gate_sender,
        }
    }

    /// Waits until `count` requests are waiting at (or went through) `/hold`.
    pub async fn wait_for_arrivals(&mut self, count: usize) {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.arrived.wait_for(|n| *n >= count),
        )
        .await
        .expect("requests never reached /hold")
        .unwrap();
    }

    pub fn release(&self) {
        self.open.send_replace(true);
    }
}
