//! A deliberately hostile HTTP server on loopback, written on raw TCP so it
//! can misbehave in ways a well-mannered server framework refuses to:
//! bodies that trickle a byte a second, compression bombs, endless
//! redirects, header blocks of megabytes, absurd `Retry-After` values, and
//! feeds and pages built to be expensive to parse. Every body is generated
//! when the server starts; nothing hostile is stored in the repository.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How one path misbehaves.
#[derive(Clone)]
enum Behaviour {
    /// 200 with this body and content type.
    Body {
        content_type: &'static str,
        body: Arc<[u8]>,
    },
    /// 200 whose body says it is gzip: a small file that inflates to `len`.
    GzipBomb { gzipped: Arc<[u8]> },
    /// 200 whose body arrives one byte a second, for ever.
    Trickle,
    /// 302 back to itself.
    RedirectLoop,
    /// A header block of about this many bytes before any body.
    HugeHeaders { bytes: usize },
    /// 503 with this `Retry-After` value.
    RetryAfter { value: &'static str },
}

/// A running hostile server; stops when dropped.
pub struct HostileServer {
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The feeds this server offers, for a feed list: (path, what it is).
pub const HOSTILE_FEEDS: &[(&str, &str)] = &[
    ("/deep.rss", "RSS with 200,000 nested elements"),
    ("/deep-xhtml.atom", "Atom with deep xhtml content"),
    ("/entity-bomb.rss", "one 500 KB entity used 20,000 times"),
    ("/many-items.rss", "100,000 items"),
    ("/deep.json", "JSON Feed nested 100,000 arrays deep"),
    ("/attributes.rss", "200,000 attributes on one element"),
    ("/trickle.rss", "a body of one byte a second"),
    ("/loop.rss", "a redirect loop"),
    ("/gzip-bomb.rss", "gzip that inflates to 1 GiB"),
    ("/huge-headers.rss", "a 4 MB header block"),
    ("/retry-after.rss", "503 with an absurd Retry-After"),
    ("/pages.rss", "a plain feed whose items are hostile pages"),
];

/// The hostile pages `/pages.rss` links to.
pub const HOSTILE_PAGES: &[(&str, &str)] = &[
    ("/page/deep-divs.html", "200,000 nested divs"),
    ("/page/attributes.html", "200,000 attributes on one element"),
    (
        "/page/formatting.html",
        "100,000 unclosed formatting elements",
    ),
    ("/page/comments.html", "500,000 comments"),
    ("/page/trickle.html", "a body of one byte a second"),
    ("/page/gzip-bomb.html", "gzip that inflates to 1 GiB"),
    ("/page/loop.html", "a redirect loop"),
];

impl HostileServer {
    /// Serves the hostile paths on `ip` (a loopback address) at a free port.
    pub async fn start(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.expect("binding loopback");
        let address: SocketAddr = listener.local_addr().unwrap();
        let base_url = format!("http://{address}");
        let routes = Arc::new(routes(&base_url));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let routes = routes.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &routes).await;
                });
            }
        });
        Self { base_url, task }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A TOML feed list entry per hostile feed.
    pub fn feed_list_entries(&self) -> String {
        HOSTILE_FEEDS
            .iter()
            .map(|(path, what)| {
                format!(
                    "\n[[feeds]]\nurl = \"{}{path}\"\noutlet = \"Hostile: {what}\"\n",
                    self.base_url
                )
            })
            .collect()
    }
}

fn body(content_type: &'static str, body: Vec<u8>) -> Behaviour {
    Behaviour::Body {
        content_type,
        body: body.into(),
    }
}

const RSS: &str = "application/rss+xml";
const HTML: &str = "text/html; charset=utf-8";

fn rss_around(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Hostile</title>\
         <link>http://hostile.example/</link><description>d</description>{items}</channel></rss>"
    )
}

fn routes(base: &str) -> HashMap<&'static str, Behaviour> {
    let mut routes = HashMap::new();
    let item = |n: usize| {
        format!(
            "<item><title>Item {n}</title><link>{base}/gone/{n}</link><guid>hostile-{n}</guid></item>"
        )
    };

    let depth = 200_000;
    let deep = format!(
        "{}{}{}",
        "<x>".repeat(depth),
        "deep text",
        "</x>".repeat(depth)
    );
    routes.insert(
        "/deep.rss",
        body(RSS, rss_around(&format!("{}{deep}", item(1))).into_bytes()),
    );
    routes.insert(
        "/deep-xhtml.atom",
        body(
            "application/atom+xml",
            format!(
                "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Hostile</title>\
                 <id>urn:hostile</id><updated>2024-08-19T10:00:00Z</updated><entry><title>Deep</title>\
                 <id>urn:hostile:1</id><updated>2024-08-19T10:00:00Z</updated><link href=\"{base}/gone/x\"/>\
                 <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{}x{}</div></content>\
                 </entry></feed>",
                "<div>".repeat(depth),
                "</div>".repeat(depth)
            )
            .into_bytes(),
        ),
    );
    let entity = "a".repeat(500_000);
    let uses = "&big;".repeat(20_000);
    routes.insert(
        "/entity-bomb.rss",
        body(
            RSS,
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY big \"{entity}\">]>\
                 <rss version=\"2.0\"><channel><title>Hostile</title><link>http://h.example/</link>\
                 <description>{uses}</description>{}</channel></rss>",
                item(2)
            )
            .into_bytes(),
        ),
    );
    // Short items, so that 100,000 of them stay under the body cap.
    let many: String = (0..100_000)
        .map(|n| format!("<item><link>{base}/gone/{n}</link></item>"))
        .collect();
    routes.insert("/many-items.rss", body(RSS, rss_around(&many).into_bytes()));
    routes.insert(
        "/deep.json",
        body(
            "application/feed+json",
            format!(
                "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Hostile\",\"items\":[{{\"id\":\"1\",\"url\":\"{base}/gone/j\",\"content_text\":{}1{}}}]}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
            .into_bytes(),
        ),
    );
    let attributes: String = (0..200_000).map(|n| format!(" a{n}=\"{n}\"")).collect();
    routes.insert(
        "/attributes.rss",
        body(
            RSS,
            rss_around(&format!(
                "<item{attributes}><title>A</title></item>{}",
                item(3)
            ))
            .into_bytes(),
        ),
    );
    routes.insert("/trickle.rss", Behaviour::Trickle);
    routes.insert("/loop.rss", Behaviour::RedirectLoop);
    routes.insert(
        "/gzip-bomb.rss",
        Behaviour::GzipBomb {
            gzipped: gzip_bomb(),
        },
    );
    routes.insert(
        "/huge-headers.rss",
        Behaviour::HugeHeaders { bytes: 4 << 20 },
    );
    routes.insert(
        "/retry-after.rss",
        Behaviour::RetryAfter {
            value: "99999999999999999999999999999",
        },
    );

    let page_items: String = HOSTILE_PAGES
        .iter()
        .enumerate()
        .map(|(n, (path, what))| {
            format!(
                "<item><title>{what}</title><link>{base}{path}</link><guid>page-{n}</guid>\
                 <pubDate>Mon, 19 Aug 2024 10:00:00 GMT</pubDate></item>"
            )
        })
        .collect();
    routes.insert(
        "/pages.rss",
        body(RSS, rss_around(&page_items).into_bytes()),
    );
    let page = |inner: String| {
        format!(
            "<!doctype html><html><head><title>Hostile page</title></head><body><article>\
             <h1>Hostile page</h1><p>{}</p>{inner}</article></body></html>",
            "Words of an ordinary paragraph. ".repeat(20)
        )
        .into_bytes()
    };
    routes.insert(
        "/page/deep-divs.html",
        body(
            HTML,
            page(format!(
                "{}x{}",
                "<div>".repeat(depth),
                "</div>".repeat(depth)
            )),
        ),
    );
    routes.insert(
        "/page/attributes.html",
        body(HTML, page(format!("<div{attributes}>x</div>"))),
    );
    routes.insert(
        "/page/formatting.html",
        body(HTML, page("<b><i><a href=\"#\">".repeat(33_000))),
    );
    routes.insert(
        "/page/comments.html",
        body(HTML, page("<!-- c --><?pi x?>".repeat(500_000))),
    );
    routes.insert("/page/trickle.html", Behaviour::Trickle);
    routes.insert(
        "/page/gzip-bomb.html",
        Behaviour::GzipBomb {
            gzipped: gzip_bomb(),
        },
    );
    routes.insert("/page/loop.html", Behaviour::RedirectLoop);
    routes
}

fn gzip_bomb() -> Arc<[u8]> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap().into()
}

async fn serve(
    mut stream: TcpStream,
    routes: &HashMap<&'static str, Behaviour>,
) -> std::io::Result<()> {
    // The request head, at most 64 KB; the path is all that matters.
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let path = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let Some(behaviour) = routes.get(path.as_str()) else {
        let reply = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        return stream.write_all(reply.as_bytes()).await;
    };
    match behaviour {
        Behaviour::Body { content_type, body } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await
        }
        Behaviour::GzipBomb { gzipped } => {
            let content_type = if path.ends_with(".html") { HTML } else { RSS };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                gzipped.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(gzipped).await
        }
        Behaviour::Trickle => {
            let content_type = if path.ends_with(".html") { HTML } else { RSS };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            // Bounded so the test server itself stops: ten minutes at most.
            for _ in 0..600 {
                stream.write_all(b"<").await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Behaviour::RedirectLoop => {
            let reply = format!(
                "HTTP/1.1 302 Found\r\nlocation: {path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(reply.as_bytes()).await
        }
        Behaviour::HugeHeaders { bytes } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\n")
                .await?;
            let line = format!("x-filler: {}\r\n", "f".repeat(1000));
            for _ in 0..bytes / line.len() {
                stream.write_all(line.as_bytes()).await?;
            }
            stream
                .write_all(b"content-length: 0\r\nconnection: close\r\n\r\n")
                .await
        }
        Behaviour::RetryAfter { value } => {
            let reply = format!(
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: {value}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(reply.as_bytes()).await
        }
    }
}
