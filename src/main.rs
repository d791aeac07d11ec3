//! The `sibsim` command line: parse arguments, run one subcommand, print a friendly error and
//! exit 2 on a user error. All the work happens in the library and in `cli`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::io::clean_up_on_interrupt();
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
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
