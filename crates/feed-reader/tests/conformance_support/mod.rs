//! Runs the feed conformance corpus (tests/conformance/, copied from
//! ../shared/bench/feeds) through the fetcher's parser and counts passes:
//! feedparser's cases (HTTP-served ones through a real local server), the
//! ill-formed files, the real outlet captures, and the date strings.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use newsflow_fetcher::{
    parse_date, parse_feed, FeedError, Fetcher, FetcherConfig, ParsedFeed, ParsedLink,
    ParsedPerson, ParsedText,
};
use serde_json::{json, Value};

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

#[derive(Debug, serde::Deserialize)]
struct Case {
    file: String,
    field: String,
    field_path: String,
    op: String,
    expected_value: Value,
    value_type: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    http: Option<HttpSpec>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct HttpSpec {
    request_url: String,
    response_headers: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub passed: usize,
    pub total: usize,
}

#[derive(Debug, Default)]
pub struct Report {
    pub by_field: BTreeMap<String, Tally>,
    pub cases: Tally,
    pub failures: Vec<String>,
    /// Ill-formed files: (file, Ok(entries) or Err(clear error)).
    pub ill_formed: Vec<(String, Result<usize, String>)>,
    /// Real captures: (file, expected items, parsed items or error).
    pub real: Vec<(String, usize, Result<usize, String>)>,
    pub dates: Tally,
    pub date_failures: Vec<String>,
}

impl Report {
    pub fn print(&self) {
        println!("feed conformance: feedparser cases without html_sanitizer_policy/html_escaping_semantics");
        println!("{:<28} {:>6} {:>6} {:>7}", "field", "pass", "total", "rate");
        for (field, t) in &self.by_field {
            println!(
                "{:<28} {:>6} {:>6} {:>6.1}%",
                field,
                t.passed,
                t.total,
                rate(t)
            );
        }
        println!(
            "{:<28} {:>6} {:>6} {:>6.1}%",
            "ALL",
            self.cases.passed,
            self.cases.total,
            rate(&self.cases)
        );
        let ill_ok = self.ill_formed.iter().filter(|(_, r)| r.is_ok()).count();
        println!(
            "ill-formed files: {} parsed, {} clear errors, {} total (no panic, no hang)",
            ill_ok,
            self.ill_formed.len() - ill_ok,
            self.ill_formed.len()
        );
        for (file, result) in &self.ill_formed {
            println!(
                "  {file}: {}",
                match result {
                    Ok(n) => format!("parsed, {n} entries"),
                    Err(e) => format!("error: {e}"),
                }
            );
        }
        let real_ok = self
            .real
            .iter()
            .filter(|(_, want, got)| got.as_ref().is_ok_and(|n| n == want))
            .count();
        println!(
            "real captures: {real_ok}/{} parsed with the item count SOURCES.md gives",
            self.real.len()
        );
        for (file, want, got) in &self.real {
            println!(
                "  {file}: expected {want}, got {}",
                match got {
                    Ok(n) => n.to_string(),
                    Err(e) => format!("error: {e}"),
                }
            );
        }
        println!(
            "dates: {}/{} ({:.1}%)",
            self.dates.passed,
            self.dates.total,
            rate(&self.dates)
        );
        for f in &self.date_failures {
            println!("  date FAIL {f}");
        }
    }
}

pub fn rate(t: &Tally) -> f64 {
    if t.total == 0 {
        100.0
    } else {
        100.0 * t.passed as f64 / t.total as f64
    }
}

/// Response headers and body, by request path.
type Routes = HashMap<String, (BTreeMap<String, String>, Vec<u8>)>;

/// A server for the cases that must come over HTTP with given headers.
async fn serve(routes: Routes) -> String {
    async fn handle(State(routes): State<Arc<Routes>>, request: Request) -> Response {
        match routes.get(request.uri().path()) {
            Some((headers, body)) => {
                let mut builder = Response::builder().status(200);
                for (name, value) in headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.body(Body::from(body.clone())).unwrap()
            }
            None => Response::builder().status(404).body(Body::empty()).unwrap(),
        }
    }
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::new(routes));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("127.0.0.1:{}", addr.port())
}

pub async fn run(dir: &Path) -> Report {
    let mut report = Report::default();
    let cases: Vec<Case> = std::fs::read_to_string(dir.join("cases.jsonl"))
        .expect("cases.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case line"))
        .collect();
    let mut routes = HashMap::new();
    for case in &cases {
        if let Some(http) = &case.http {
            let path = url::Url::parse(&http.request_url)
                .unwrap()
                .path()
                .to_string();
            let body = std::fs::read(dir.join("feedparser").join(&case.file)).expect("case file");
            routes.insert(path, (http.response_headers.clone(), body));
        }
    }
    let authority = serve(routes).await;
    let fetcher = Fetcher::in_memory(FetcherConfig {
        allow_private_addresses: true,
        per_host_min_gap_ms: 0,
        ..Default::default()
    })
    .unwrap();
    let mut parsed: HashMap<String, Result<Value, String>> = HashMap::new();
    for case in &cases {
        if parsed.contains_key(&case.file) {
            continue;
        }
        let result = match &case.http {
            Some(http) => {
                let url = http.request_url.replace("127.0.0.1:8097", &authority);
                fetcher.fetch_feed(&url).await.map_err(|e| e.to_string())
            }
            None => {
                let body =
                    std::fs::read(dir.join("feedparser").join(&case.file)).expect("case file");
                parse_feed(&body, None, "").map_err(|e| e.to_string())
            }
        };
        parsed.insert(case.file.clone(), result.map(|f| feedparser_shape(&f)));
    }
    for case in &cases {
        let outcome = match &parsed[&case.file] {
            Ok(doc) => {
                let expected = localise(&case.expected_value, &authority);
                check(case, doc, &expected)
            }
            Err(e) => Err(format!("parse error: {e}")),
        };
        let tally = report.by_field.entry(case.field.clone()).or_default();
        tally.total += 1;
        report.cases.total += 1;
        match outcome {
            Ok(()) => {
                tally.passed += 1;
                report.cases.passed += 1;
            }
            Err(why) => report.failures.push(format!(
                "{} {} {}: {why}",
                case.file, case.field_path, case.op
            )),
        }
    }
    run_ill_formed(dir, &mut report);
    run_real(dir, &mut report);
    run_dates(dir, &mut report);
    report
}

fn localise(value: &Value, authority: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("127.0.0.1:8097", authority)),
        other => other.clone(),
    }
}

fn check(case: &Case, doc: &Value, expected: &Value) -> Result<(), String> {
    let actual = lookup(doc, &case.field_path);
    let shown = || {
        format!(
            "got {}",
            actual.map_or("nothing".to_string(), |v| v.to_string())
        )
    };
    match case.op.as_str() {
        "absent" => actual
            .filter(|v| !v.is_null())
            .map_or(Ok(()), |_| Err(shown())),
        "truthy" => truthy(actual).then_some(()).ok_or_else(shown),
        "falsy" => (!truthy(actual)).then_some(()).ok_or_else(shown),
        "len_eq" => {
            let len = actual.and_then(|v| v.as_array()).map(|a| a.len());
            (len.map(|l| l as u64) == expected.as_u64())
                .then_some(())
                .ok_or_else(shown)
        }
        "eq" => {
            let Some(actual) = actual else {
                return Err(shown());
            };
            let equal = match (case.field.as_str(), actual, expected) {
                ("encoding", Value::String(a), Value::String(e)) => same_encoding(a, e),
                (_, Value::String(a), Value::String(e)) => a == e,
                (_, a, Value::String(e)) => a.to_string().trim_matches('"') == e,
                (_, a, e) => a == e,
            };
            equal
                .then_some(())
                .ok_or_else(|| format!("{}, expected {expected}", shown()))
        }
        other => Err(format!("unknown op {other}")),
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// Charset names compare by what they denote (WHATWG labels), so
/// `iso-8859-1` and `windows-1252` are one charset, as in browsers.
fn same_encoding(actual: &str, expected: &str) -> bool {
    let canonical = |label: &str| {
        let lower = label.to_ascii_lowercase();
        match lower.as_str() {
            "utf-32be" | "utf-32le" | "utf-32" => lower,
            _ => encoding_rs::Encoding::for_label(lower.as_bytes())
                .map_or(lower.clone(), |e| e.name().to_ascii_lowercase()),
        }
    };
    canonical(actual) == canonical(expected)
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = doc;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

/// Our model in the shape of feedparser's result, so the cases' paths apply.
fn feedparser_shape(feed: &ParsedFeed) -> Value {
    let text = |t: &Option<ParsedText>| {
        t.as_ref()
            .map(|t| json!({"value": t.value, "type": t.media_type}))
    };
    let links = |links: &[ParsedLink]| -> Value {
        links.iter().map(|l| json!({"href": l.href, "rel": l.rel, "type": l.media_type, "length": l.length.map(|n| n.to_string())})).collect()
    };
    let person = |p: &ParsedPerson| json!({"name": p.name, "email": p.email, "href": p.href});
    let date = |d: &Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let entries: Vec<Value> = feed
        .items
        .iter()
        .map(|item| {
            json!({
                "id": item.guid,
                "guidislink": item.guid_is_link,
                "title": item.title_detail.as_ref().map(|t| t.value.clone()),
                "title_detail": text(&item.title_detail),
                "summary": item.summary_detail.as_ref().map(|t| t.value.clone()),
                "summary_detail": text(&item.summary_detail),
                "content": item.content.iter().map(|c| json!({"value": c.value, "type": c.media_type})).collect::<Vec<_>>(),
                "link": item.link,
                "links": links(&item.links),
                "enclosures": links(&item.enclosures),
                "author": item.authors.first().and_then(|p| p.display()),
                "author_detail": item.authors.first().map(person),
                "authors": item.authors.iter().map(person).collect::<Vec<_>>(),
                "published": item.published_text,
                "updated": item.updated_text,
                "published_parsed": date(&item.published),
                "updated_parsed": date(&item.updated),
            })
        })
        .collect();
    json!({
        "version": feed.format,
        "encoding": feed.encoding,
        "feed": {
            "title": feed.title_detail.as_ref().map(|t| t.value.clone()),
            "title_detail": text(&feed.title_detail),
            "subtitle": feed.subtitle_detail.as_ref().map(|t| t.value.clone()),
            "subtitle_detail": text(&feed.subtitle_detail),
            "id": feed.id,
            "link": feed.link,
            "links": links(&feed.links),
            "author": feed.authors.first().and_then(|p| p.display()),
            "author_detail": feed.authors.first().map(person),
            "authors": feed.authors.iter().map(person).collect::<Vec<_>>(),
            "updated": feed.updated_text,
            "published": feed.published_text,
            "updated_parsed": date(&feed.updated),
            "published_parsed": date(&feed.published),
        },
        "entries": entries,
    })
}

fn run_ill_formed(dir: &Path, report: &mut Report) {
    let mut files = Vec::new();
    collect_files(&dir.join("feedparser/illformed"), &mut files);
    files.sort();
    for path in files {
        let body = std::fs::read(&path).unwrap();
        let name = path
            .strip_prefix(dir.join("feedparser"))
            .unwrap()
            .display()
            .to_string();
        let result = std::panic::catch_unwind(|| parse_feed(&body, None, ""))
            .map_err(|_| "PANIC".to_string())
            .and_then(|r| {
                r.map(|f| f.items.len())
                    .map_err(|e: FeedError| e.to_string())
            });
        report.ill_formed.push((name, result));
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Expected item counts from the table in real/SOURCES.md.
fn run_real(dir: &Path, report: &mut Report) {
    let sources = std::fs::read_to_string(dir.join("real/SOURCES.md")).expect("SOURCES.md");
    for line in sources
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(file), Some(items)) = (
            cells.get(1),
            cells.get(8).and_then(|c| c.parse::<usize>().ok()),
        ) else {
            continue;
        };
        let body = std::fs::read(dir.join("real").join(file)).expect("capture");
        let got = parse_feed(&body, None, "https://feeds.example.com/feed.xml")
            .map(|f| f.items.len())
            .map_err(|e| e.to_string());
        report.real.push((file.to_string(), items, got));
    }
}

fn run_dates(dir: &Path, report: &mut Report) {
    for line in std::fs::read_to_string(dir.join("date_cases.jsonl"))
        .expect("date cases")
        .lines()
    {
        let case: Value = serde_json::from_str(line).unwrap();
        let input = case["input"].as_str().unwrap_or_default();
        let expected = case["expected_utc"].as_str();
        let got = parse_date(input).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        report.dates.total += 1;
        if got.as_deref() == expected {
            report.dates.passed += 1;
        } else {
            report
                .date_failures
                .push(format!("{input:?}: got {got:?}, expected {expected:?}"));
        }
    }
}
