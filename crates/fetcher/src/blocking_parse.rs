//! Feed parsing in the running service: on tokio's blocking pool, under a
//! time budget, with a panic caught. Parsing is CPU work on a document a
//! stranger wrote; on the async workers it would hold up every other feed
//! for as long as it took, and a panic there would end the task that polls.

use std::any::Any;
use std::time::Duration;

use crate::parse::FeedError;

/// Runs `parse` on the blocking pool. A parse that runs past `budget` is
/// reported as `TimedOut` (the thread finishes in the background: parsing
/// is linear in the input, so it does finish, and nothing waits for it);
/// one that panics is reported as `Panicked`. Either way the caller records
/// a feed failure and goes on.
pub(crate) async fn parse_off_the_async_workers<T, F>(
    parse: F,
    budget: Duration,
) -> Result<T, FeedError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, FeedError> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(parse);
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) if join_error.is_panic() => {
            Err(FeedError::Panicked(panic_message(join_error.into_panic())))
        }
        Ok(Err(join_error)) => Err(FeedError::Panicked(join_error.to_string())),
        Err(_) => Err(FeedError::TimedOut(budget)),
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_parse_is_a_failure_not_the_end() {
        let result: Result<(), _> =
            parse_off_the_async_workers(|| panic!("hostile document"), Duration::from_secs(5))
                .await;
        match result {
            Err(FeedError::Panicked(message)) => assert!(message.contains("hostile"), "{message}"),
            other => panic!("expected Panicked, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_parse_is_given_up_at_the_budget_and_others_go_on() {
        let started = Instant::now();
        let slow = parse_off_the_async_workers(
            || {
                std::thread::sleep(Duration::from_secs(3));
                Ok(())
            },
            Duration::from_millis(200),
        );
        let quick = parse_off_the_async_workers(|| Ok(7), Duration::from_secs(5));
        let (slow, quick) = tokio::join!(slow, quick);
        assert!(matches!(slow, Err(FeedError::TimedOut(_))), "{slow:?}");
        assert_eq!(quick.unwrap(), 7);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Blocking-pool threads have tokio's default 2 MiB stack: a document
    /// nested 200,000 deep must parse there (the depth cap keeps feed-rs's
    /// recursion short; our own tree code does not recurse).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deep_document_parses_on_a_blocking_thread() {
        let depth = 200_000;
        let body = format!(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title><description>{}x{}</description></item></channel></rss>",
            "<b>".repeat(depth),
            "</b>".repeat(depth)
        );
        let parsed = parse_off_the_async_workers(
            move || {
                newsflow_feed_reader::parse_feed(body.as_bytes(), None, "https://x.example/feed")
            },
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.items[0].title.as_deref(), Some("a"));
    }
}
