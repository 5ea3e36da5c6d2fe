//! The `newsflow` binary: wires the stage runners to a bus and offers the
//! command-line tools around them.

mod cli;
mod commands;
mod config_keys;
mod config_reference;
mod data_dir_lock;
mod event_view;
mod live_page;
mod logging;
mod pipeline;
mod progress;
mod settings;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("newsflow: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("newsflow: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
