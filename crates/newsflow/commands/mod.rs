//! One module per subcommand.

mod bus_groups;
mod completions;
mod config;
mod dead_letters;
mod demo;
mod extract;
mod feeds;
mod follow_events;
mod replay;
mod run;
mod serve;
mod tail;

use crate::cli::{Cli, Command};

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Tail(args) => tail::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Extract(args) => extract::run(args),
        Command::Cluster(args) => replay::cluster(args),
        Command::Dedup(args) => replay::dedup(args),
        Command::Feeds(command) => feeds::run(command).await,
        Command::DeadLetters(command) => dead_letters::run(command).await,
        Command::Bus(crate::cli::BusCommand::Groups(args)) => bus_groups::run(args),
        Command::Config(command) => config::run(command),
        Command::Completions(args) => completions::run(args),
    }
}
