//! The `vaultmcp` command: parses the command line and hands over to the library.

/// mimalloc instead of glibc's malloc: indexing frees memory on other threads than the ones
/// that allocated it (parser threads, tantivy's indexing and merge threads), and glibc's
/// per-thread arenas kept that memory: a first index of 100,000 notes peaked far higher.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vaultmcp::cli::main()
}
