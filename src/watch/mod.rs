//! Keeping the index live in a running server: the writer thread (and the file watcher).

mod writer;

pub use writer::WriterHandle;
