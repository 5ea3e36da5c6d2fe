//! A real HTTP server on 127.0.0.1 whose routes tests change between polls,
//! recording every request and the most requests it ever had in flight.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use newsflow_fetcher::{PageSink, SinkError};
use newsflow_model::RawPage;

#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Route {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub method: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

pub struct TestServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl TestServer {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// Serves `route` at `path`; `{{BASE}}` in the body becomes the server's base URL.
    pub fn route(&self, path: &str, mut route: Route) {
        if let Ok(text) = std::str::from_utf8(&route.body) {
            route.body = text.replace("{{BASE}}", &self.base()).into_bytes();
        }
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn last_request(&self, path: &str) -> Option<Seen> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r.path == path)
            .cloned()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers = request.headers().clone();
    let method = request.method().to_string();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    shared.requests.lock().unwrap().push(Seen {
        path: path.clone(),
        method,
        headers: headers.clone(),
        body,
    });
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak.fetch_max(now, Ordering::SeqCst);
    let route = shared.routes.lock().unwrap().get(&path).cloned();
    let response = match route {
        None => Response::builder()
            .status(404)
            .body(Body::from("not found"))
            .unwrap(),
        Some(route) => {
            tokio::time::sleep(route.delay).await;
            let etag = route
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v.clone());
            let matches = etag.is_some()
                && headers.get("if-none-match").and_then(|v| v.to_str().ok()) == etag.as_deref();
            let mut builder = Response::builder().status(if matches { 304 } else { route.status });
            for (name, value) in &route.headers {
                builder = builder.header(
                    HeaderName::try_from(name.as_str()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            let body = if matches { Vec::new() } else { route.body };
            builder.body(Body::from(body)).unwrap_or_else(|_| {
                Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::empty())
                    .unwrap()
            })
        }
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// A sink that keeps what it is given, and can be told to refuse.
#[derive(Default)]
pub struct CollectingSink {
    pub pages: Mutex<Vec<RawPage>>,
    pub refuse: std::sync::atomic::AtomicBool,
}

impl CollectingSink {
    pub fn pages(&self) -> Vec<RawPage> {
        self.pages.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl PageSink for CollectingSink {
    async fn deliver(&self, page: RawPage) -> Result<(), SinkError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(SinkError::Unavailable("bus unavailable".into()));
        }
        self.pages.lock().unwrap().push(page);
        Ok(())
    }
}

pub fn test_config() -> newsflow_fetcher::FetcherConfig {
    newsflow_fetcher::FetcherConfig {
        allow_private_addresses: true,
        per_host_min_gap_ms: 0,
        request_timeout_secs: 5,
        ..Default::default()
    }
}

pub fn html_page(title: &str) -> Route {
    Route::ok("text/html; charset=utf-8", format!("<!doctype html><html><head><title>{title}</title></head><body><p>{title}</p></body></html>"))
}

pub fn rss(title: &str, items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(t, link)| format!("<item><title>{t}</title><link>{link}</link><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate></item>"))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title><link>{{{{BASE}}}}/</link>{items}</channel></rss>")
}

/// A bare TCP server for behaviour no well-behaved HTTP server has (bytes
/// dripped one a second, endless or oversized headers): `handler` gets each
/// connection after its request head was read. Returns the base URL.
pub async fn raw_server<F, Fut>(handler: F) -> String
where
    F: Fn(tokio::net::TcpStream, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let path = String::from_utf8_lossy(&head)
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                handler(stream, path).await;
            });
        }
    });
    format!("http://{addr}")
}
