//! Where blocks go: stdout, one file, one file per block, or nowhere (fingerprint only).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A destination for blocks, written in index order.
pub enum Sink {
    /// Discard (used with `--fingerprint` and no output option).
    Discard,
    /// One stream (stdout or a file), unbuffered: blocks are large already.
    Stream { file: File, name: String },
    /// `block-000000.bin`, `block-000001.bin`, ... in a directory.
    Dir(PathBuf),
}

impl Sink {
    /// Standard output as a raw file (no line buffering in the way of large writes).
    pub fn stdout() -> Result<Self> {
        use std::os::fd::AsFd;
        let fd = std::io::stdout().as_fd().try_clone_to_owned().map_err(|source| io("stdout", source))?;
        Ok(Sink::Stream { file: File::from(fd), name: "stdout".into() })
    }

    /// A file, created or truncated.
    pub fn file(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|source| io(&path.display().to_string(), source))?;
        Ok(Sink::Stream { file, name: path.display().to_string() })
    }

    /// A directory, created if missing.
    pub fn dir(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|source| io(&path.display().to_string(), source))?;
        Ok(Sink::Dir(path.to_path_buf()))
    }

    /// Writes block `index`.
    pub fn write_block(&mut self, index: u64, block: &[u8]) -> Result<()> {
        match self {
            Sink::Discard => Ok(()),
            Sink::Stream { file, name } => file.write_all(block).map_err(|source| io(name, source)),
            Sink::Dir(dir) => {
                let path = dir.join(format!("block-{index:06}.bin"));
                std::fs::write(&path, block).map_err(|source| io(&path.display().to_string(), source))
            }
        }
    }

    /// Flushes buffered data.
    pub fn finish(&mut self) -> Result<()> {
        match self {
            Sink::Stream { file, name } => file.flush().map_err(|source| io(name, source)),
            _ => Ok(()),
        }
    }
}

fn io(target: &str, source: std::io::Error) -> Error {
    Error::io("write", target, source)
}
