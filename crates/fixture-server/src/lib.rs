//! A real HTTP server on 127.0.0.1 that serves a folder of fixture outlets
//! (feeds and article pages), writing its own base URL where a file says
//! `{{BASE}}`, so fixtures can hold absolute links without knowing the port.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The placeholder fixtures use for the server's base URL.
pub const BASE_PLACEHOLDER: &str = "{{BASE}}";

#[derive(Debug, thiserror::Error)]
pub enum FixtureServerError {
    #[error("cannot bind a loopback port: {0}")]
    Bind(#[source] std::io::Error),
    #[error("fixture folder {0} does not exist")]
    MissingRoot(PathBuf),
}

struct Site {
    root: PathBuf,
    base_url: String,
}

/// A running fixture server; stops when dropped.
pub struct FixtureServer {
    base_url: String,
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl FixtureServer {
    /// Serves `root` on a free loopback port.
    pub async fn start(root: &Path) -> Result<Self, FixtureServerError> {
        if !root.is_dir() {
            return Err(FixtureServerError::MissingRoot(root.to_path_buf()));
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(FixtureServerError::Bind)?;
        let address = listener.local_addr().map_err(FixtureServerError::Bind)?;
        let base_url = format!("http://{address}");
        let site = Arc::new(Site {
            root: root.to_path_buf(),
            base_url: base_url.clone(),
        });
        let app = axum::Router::new().fallback(serve_file).with_state(site);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fixture server stopped");
            }
        });
        Ok(Self {
            base_url,
            address,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `text` with every placeholder replaced by this server's base URL.
    pub fn render(&self, text: &str) -> String {
        text.replace(BASE_PLACEHOLDER, &self.base_url)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" | "rss" => "application/rss+xml; charset=utf-8",
        "atom" => "application/atom+xml; charset=utf-8",
        "json" => "application/json",
        "opml" => "text/x-opml; charset=utf-8",
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under the root, refusing `..` and other
/// ways out of it.
fn resolve(root: &Path, uri: &Uri) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for component in Path::new(uri.path().trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => path.push(part),
            _ => return None,
        }
    }
    path.is_file().then_some(path)
}

async fn serve_file(State(site): State<Arc<Site>>, uri: Uri) -> Response {
    let Some(path) = resolve(&site.root, &uri) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let content_type = content_type_for(&path);
    let body = if content_type.contains("charset=utf-8") {
        match String::from_utf8(bytes) {
            Ok(text) => text.replace(BASE_PLACEHOLDER, &site.base_url).into_bytes(),
            Err(raw) => raw.into_bytes(),
        }
    } else {
        bytes
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::from(code.to_string()));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_files_with_the_base_url_filled_in() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        std::fs::write(
            dir.path().join("site/feed.xml"),
            "<rss><link>{{BASE}}/site/a.html</link></rss>",
        )
        .unwrap();
        let server = FixtureServer::start(dir.path()).await.unwrap();
        let response = reqwest::get(format!("{}/site/feed.xml", server.base_url()))
            .await
            .unwrap();
        assert_eq!(
            response.headers()[reqwest::header::CONTENT_TYPE],
            "application/rss+xml; charset=utf-8"
        );
        let body = response.text().await.unwrap();
        assert_eq!(
            body,
            format!("<rss><link>{}/site/a.html</link></rss>", server.base_url())
        );
    }

    #[tokio::test]
    async fn missing_files_and_escapes_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let server = FixtureServer::start(dir.path()).await.unwrap();
        for path in ["/nope.html", "/../etc/passwd", "/a/../../x"] {
            let response = reqwest::get(format!("{}{path}", server.base_url()))
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{path}");
        }
    }
}
