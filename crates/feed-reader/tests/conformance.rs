//! The conformance bar of issue 3, measured by the project's own tool:
//! `cargo test -p newsflow-fetcher --test conformance -- --nocapture` prints
//! the per-field table.

mod conformance_support;

#[tokio::test]
async fn feed_conformance_bar() {
    let report = conformance_support::run(&conformance_support::corpus_dir()).await;
    report.print();
    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    let rate = conformance_support::rate(&report.cases);
    assert_eq!(
        report.cases.total, 853,
        "the target set is the 853 cases without policy flags"
    );
    assert!(rate >= 95.0, "conformance {rate:.1}% is below the 95% bar");
    assert!(report
        .ill_formed
        .iter()
        .all(|(_, r)| r.as_ref().err().is_none_or(|e| e != "PANIC")));
    for (file, want, got) in &report.real {
        assert_eq!(got.as_ref().ok(), Some(want), "{file}");
    }
}
