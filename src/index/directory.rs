//! The index's directory: tantivy's memory-mapped one, except that large reads are copied
//! out of the file instead of mapped.
//!
//! Why: a reader loads every note's vectors into memory once (see `vectors.rs`), streaming
//! the whole vector column to do it. Through a memory map, every page of that column would
//! then stay mapped in this process, counted in its resident memory next to the copy, for as
//! long as the segment lives: at 100k notes that is about as much again as the vectors
//! themselves. Read with `pread`, the bytes are freed as soon as the copy is made. Small
//! reads (posting lists, term blocks, fast-field columns looked up per query) stay mapped,
//! where they cost nothing.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{fmt, io};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle,
    WritePtr,
};
use tantivy::{Directory, HasLen};

/// Reads of at least this many bytes are copied, not mapped.
const COPY_READS_FROM: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct IndexDirectory {
    mmap: MmapDirectory,
    root: PathBuf,
}

impl IndexDirectory {
    pub fn open(root: &Path) -> tantivy::Result<IndexDirectory> {
        Ok(IndexDirectory {
            mmap: MmapDirectory::open(root).map_err(tantivy::TantivyError::from)?,
            root: root.to_path_buf(),
        })
    }
}

/// A file read both ways: mapped for small ranges, copied for large ones.
struct SplitHandle {
    mapped: Arc<dyn FileHandle>,
    file: File,
}

impl fmt::Debug for SplitHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitHandle")
            .field("len", &self.mapped.len())
            .finish()
    }
}

impl HasLen for SplitHandle {
    fn len(&self) -> usize {
        self.mapped.len()
    }
}

impl FileHandle for SplitHandle {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.len() < COPY_READS_FROM {
            return self.mapped.read_bytes(range);
        }
        let mut buf = vec![0u8; range.len()];
        self.file.read_exact_at(&mut buf, range.start as u64)?;
        Ok(OwnedBytes::new(buf))
    }
}

impl Directory for IndexDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let mapped = self.mmap.get_file_handle(path)?;
        // Only fast fields hold the vector column; the rest is mapped as tantivy does.
        if path.extension().is_none_or(|e| e != "fast") || mapped.len() < COPY_READS_FROM {
            return Ok(mapped);
        }
        let file = File::open(self.root.join(path))
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_path_buf()))?;
        Ok(Arc::new(SplitHandle { mapped, file }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mmap.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mmap.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mmap.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mmap.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mmap.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mmap.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mmap.acquire_lock(lock)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mmap.watch(callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_reads_of_fast_fields_are_copied_and_equal_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..3 * COPY_READS_FROM)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(dir.path().join("seg.fast"), &bytes).unwrap();
        std::fs::write(dir.path().join("seg.idx"), &bytes).unwrap();
        let d = IndexDirectory::open(dir.path()).unwrap();
        for name in ["seg.fast", "seg.idx"] {
            let h = d.get_file_handle(Path::new(name)).unwrap();
            assert_eq!(h.len(), bytes.len());
            for range in [
                0..10,
                5..COPY_READS_FROM + 5,
                7..bytes.len(),
                0..bytes.len(),
            ] {
                let got = h.read_bytes(range.clone()).unwrap();
                assert_eq!(got.as_slice(), &bytes[range.clone()], "{name} {range:?}");
            }
        }
        // Only the fast-field file is read both ways.
        let fast = format!("{:?}", d.get_file_handle(Path::new("seg.fast")).unwrap());
        let idx = format!("{:?}", d.get_file_handle(Path::new("seg.idx")).unwrap());
        assert!(fast.starts_with("SplitHandle"), "{fast}");
        assert!(!idx.starts_with("SplitHandle"), "{idx}");
    }
}
