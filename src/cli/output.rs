//! Where blocks go: stdout, one file, one file per block, or nowhere (fingerprint only).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The length written before each block with `--block-stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthPrefix {
    /// 4 bytes, little-endian.
    U32Le,
    /// 8 bytes, little-endian.
    U64Le,
}

/// A destination for blocks, written in index order.
pub enum Sink {
    /// Discard (used with `--fingerprint` and no output option).
    Discard,
    /// One stream (stdout or a file), unbuffered: blocks are large already; optionally each block
    /// behind its length.
    Stream { file: File, name: String, prefix: Option<LengthPrefix> },
    /// `block-000000.bin`, `block-000001.bin`, ... in a directory.
    Dir(PathBuf),
}

impl Sink {
    /// Standard output as a raw file (no line buffering in the way of large writes).
    pub fn stdout() -> Result<Self> {
        use std::os::fd::AsFd;
        let fd = std::io::stdout().as_fd().try_clone_to_owned().map_err(|source| io("stdout", source))?;
        Ok(Sink::Stream { file: File::from(fd), name: "stdout".into(), prefix: None })
    }

    /// A file, created or truncated.
    pub fn file(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|source| io(&path.display().to_string(), source))?;
        Ok(Sink::Stream { file, name: path.display().to_string(), prefix: None })
    }

    /// A directory, created if missing.
    pub fn dir(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|source| io(&path.display().to_string(), source))?;
        Ok(Sink::Dir(path.to_path_buf()))
    }

    /// The same sink writing each block behind its length (streams only).
    pub fn with_prefix(mut self, length: Option<LengthPrefix>) -> Self {
        if let Sink::Stream { prefix, .. } = &mut self {
            *prefix = length;
        }
        self
    }

    /// Writes block `index`.
    pub fn write_block(&mut self, index: u64, block: &[u8]) -> Result<()> {
        match self {
            Sink::Discard => Ok(()),
            Sink::Stream { file, name, prefix } => {
                let len = block.len() as u64;
                let header = match prefix {
                    None => Ok(()),
                    // Blocks are at most 1 GiB, so the length always fits 4 bytes.
                    Some(LengthPrefix::U32Le) => file.write_all(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes()),
                    Some(LengthPrefix::U64Le) => file.write_all(&len.to_le_bytes()),
                };
                header.and_then(|()| file.write_all(block)).map_err(|source| io(name, source))
            }
            Sink::Dir(dir) => {
                let path = dir.join(format!("block-{index:06}.bin"));
                std::fs::write(&path, block).map_err(|source| io(&path.display().to_string(), source))
            }
        }
    }

    /// Flushes buffered data.
    pub fn finish(&mut self) -> Result<()> {
        match self {
            Sink::Stream { file, name, .. } => file.flush().map_err(|source| io(name, source)),
            _ => Ok(()),
        }
    }
}

fn io(target: &str, source: std::io::Error) -> Error {
    Error::io("write", target, source)
}
