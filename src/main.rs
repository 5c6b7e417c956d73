//! The `vaultmcp` command: parses the command line and hands over to the library.

/// mimalloc gives freed memory back to the system; glibc's malloc kept much of what a first
/// index build had used (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vaultmcp::cli::main()
}
