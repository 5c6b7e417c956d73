//! Keeping the index live in a running server: the writer thread, the file watcher and the
//! control socket the CLI uses to reach a running server.

mod catch_up;
pub mod control;
mod watcher;
mod writer;

pub use catch_up::{CatchUp, Phase};
pub use watcher::{Watcher, start as start_watcher};
pub use writer::WriterHandle;
