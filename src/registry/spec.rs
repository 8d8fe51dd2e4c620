//! What the tools know about one format, without knowing its type.
//!
//! A [`FormatSpec`] is a small `Copy` value of constants and function pointers, made once per
//! format by [`FormatSpec::of`] from its [`Configured`] impl. It is the only thing the block
//! cache, `calibrate`, `check` and the command line hold about a format, so a format from another
//! crate gets every tool by being registered, with no code path of its own.

use std::fmt;
use std::path::Path;

use super::erased::FormatConfig;
use crate::error::{Error, Result};
use crate::format::{Configured, SampleRendering};

/// The type-erased description of one registered format. Cheap to copy.
#[derive(Clone, Copy)]
pub struct FormatSpec {
    name: &'static str,
    about: &'static str,
    lading_path: &'static [&'static str],
    sample: SampleRendering,
    default_config: fn() -> FormatConfig,
    parse_config: fn(&str, &Path) -> Result<FormatConfig>,
}

impl FormatSpec {
    /// The spec of format `F`, from its [`Configured`] constants.
    pub fn of<F: Configured>() -> Self {
        Self {
            name: F::NAME,
            about: F::ABOUT,
            lading_path: F::LADING_PATH,
            sample: F::SAMPLE,
            default_config: FormatConfig::default_of::<F>,
            parse_config: FormatConfig::parse::<F>,
        }
    }

    /// The name the command line, the files and the messages use (`syslog5424`, ...).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One line saying what the format is, for `--help`.
    pub fn about(&self) -> &'static str {
        self.about
    }

    /// The key path of the format under lading's `variant:` (empty when lading has none).
    pub fn lading_path(&self) -> &'static [&'static str] {
        self.lading_path
    }

    /// How `check --bless` renders a sample block for people.
    pub fn sample(&self) -> SampleRendering {
        self.sample
    }

    /// The format's default configuration.
    pub fn default_config(&self) -> FormatConfig {
        (self.default_config)()
    }

    /// Parses a config from YAML (plain or lading-wrapped); `origin` names the source in errors.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] naming `origin` and the parser's complaint.
    pub fn parse_config(&self, text: &str, origin: &Path) -> Result<FormatConfig> {
        (self.parse_config)(text, origin)
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the file cannot be read or parsed.
    pub fn load_config(&self, path: &Path) -> Result<FormatConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        self.parse_config(&text, path)
    }
}

impl fmt::Debug for FormatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormatSpec").field("name", &self.name).field("lading_path", &self.lading_path).finish()
    }
}

impl fmt::Display for FormatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for FormatSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for FormatSpec {}

/// Checks that a name can stand on a command line, in a comma-separated list and in a folder
/// name: non-empty, at most 64 characters of ASCII letters, digits, `-`, `_` and `.`.
///
/// # Errors
/// [`Error::Argument`] naming the bad name.
pub(super) fn check_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) || name.starts_with('.') {
        return Err(Error::argument(
            "format name",
            name,
            "use 1 to 64 ASCII letters, digits, '-', '_' or '.', not starting with '.'",
        ));
    }
    Ok(())
}
