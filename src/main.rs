//! The `vaultmcp` command: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    vaultmcp::cli::main()
}
