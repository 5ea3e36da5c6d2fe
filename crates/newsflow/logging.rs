//! Logs go to stderr so that commands can print their results on stdout.
//! Colours only when stderr is a terminal: a file or a log collector gets
//! plain text. Dependencies log at warning level and above only, and the
//! HTML parser not even that: it reports every malformed construct it
//! repairs ("foster parenting not implemented"), which on real pages is
//! noise, many lines per page.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Directives after the default level; `NEWSFLOW_LOG` replaces them all.
pub const QUIET_DEPENDENCIES: &str =
    "rdkafka=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,\
     rustls=warn,html5ever=error,selectors=error,markup5ever=error";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat, verbose: u8) {
    let default_level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("NEWSFLOW_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},{QUIET_DEPENDENCIES}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
