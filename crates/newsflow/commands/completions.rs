//! `newsflow completions SHELL`: a completion script generated from the
//! command-line definition, so it never falls behind it.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "newsflow", &mut std::io::stdout());
    Ok(())
}
