//! The `sibsim` command line: parse arguments, run one subcommand, print a friendly error and
//! exit 2 on a user error (1 where `solve` finds no value that meets its target). All the work
//! happens in the library and in `cli`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::io::clean_up_on_interrupt();
    // Output that did not reach standard output fails the run, whatever it computed.
    let run = cli::run().and_then(|f| match cli::io::stdout_failure() {
        Some(e) => Err(cli::CliError(e)),
        None => Ok(f),
    });
    match run {
        Ok(cli::Finished::Done) => ExitCode::SUCCESS,
        Ok(cli::Finished::TargetNotMet) => ExitCode::from(1),
        Ok(cli::Finished::Usage) => ExitCode::from(2),
        Err(e) => {
            let msg = e.to_string();
            eprint!("error: {msg}");
            if !msg.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}
