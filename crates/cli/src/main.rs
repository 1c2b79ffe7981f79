//! `tradai`: the operator's command line for the drift-response runbook.
//!
//! Architecture invariant: this crate is thin. It parses arguments, wires the embedded adapters
//! into the library crates, and prints; every rule lives in `tradai-domain` / `tradai-runbook`.
#![forbid(unsafe_code)]

mod app;
mod commands;
mod output;

use clap::Parser;
use std::process::ExitCode;

pub use app::UsageError;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    app::init_logging(&cli.global);
    let json = cli.global.json;
    match commands::run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = app::exit_code(&e);
            output::print_error(&e, json, code);
            ExitCode::from(code)
        }
    }
}
