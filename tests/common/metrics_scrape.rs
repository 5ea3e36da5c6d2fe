//! One scrape of a process's `/metrics` (Prometheus text), summed by family
//! and labels: how far a stage has got, read while it runs.

use super::child_guard::http_get;

/// The sum of the samples of `name` whose labels include every
/// `label="value"` in `labels`, or `None` when the endpoint does not
/// answer (yet).
pub fn metric_sum(port: u16, name: &str, labels: &[&str]) -> Option<f64> {
    let (200, body) = http_get(port, "/metrics")? else {
        return None;
    };
    Some(
        body.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (family, labels_text) = series.split_once('{').unwrap_or((series, ""));
                (family == name && labels.iter().all(|l| labels_text.contains(l)))
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .sum(),
    )
}
