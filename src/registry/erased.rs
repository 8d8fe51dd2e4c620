//! Type-erased handles: [`FormatSpec`] (what the tools know about one format, without knowing
//! its type) and [`FormatConfig`] (one format's configuration).
//!
//! A `FormatSpec` is a small `Copy` value of constants and function pointers, made once per
//! format by [`FormatSpec::of`] from its [`Configured`] impl. It is the only thing the block
//! cache, `calibrate`, `check` and the command line hold about a format, so a format from another
//! crate gets every tool by being registered, with no code path of its own.
//!
//! The tools (cache, calibrate, check, the command line) hold configs of formats they were not
//! compiled against. A `FormatConfig` carries the format's [`FormatSpec`], its typed config
//! behind a trait object, and the strategy selection `auto` resolves through. Building it binds
//! the concrete [`Generator`], so dynamic dispatch happens once per block (through
//! [`BlockSource`]), never per member.

use std::any::Any;
use std::fmt;
#[cfg(feature = "config-files")]
use std::path::Path;
use std::sync::Arc;

use crate::compress::Compression;
use crate::delivery::{Delivery, Transport};
use crate::error::{Error, Result};
use crate::format::{Configured, SampleRendering};
use crate::generator::{BlockSource, Generator};
use crate::selection::Selection;
use crate::setup::{DEFAULT_MAX_SETUP_MEMORY, SetupMemory};
use crate::strategy::{Strategy, StrategyChoice};

/// The object-safe face of a typed config.
trait ErasedConfig: Send + Sync {
    fn build(
        &self,
        seed: u64,
        strategy: Strategy,
        compression: Compression,
        max_setup_memory: u64,
    ) -> Result<Box<dyn BlockSource>>;
    fn setup_memory(&self) -> Result<SetupMemory>;
    fn warnings(&self) -> Vec<String>;
    fn for_transport(&self, transport: Transport) -> Result<Option<Arc<dyn ErasedConfig>>>;
    #[cfg(feature = "config-files")]
    fn to_yaml(&self) -> std::result::Result<String, String>;
    fn as_any(&self) -> &dyn Any;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

struct Typed<F: Configured>(F::Config);

impl<F: Configured> ErasedConfig for Typed<F> {
    fn build(
        &self,
        seed: u64,
        strategy: Strategy,
        compression: Compression,
        max_setup_memory: u64,
    ) -> Result<Box<dyn BlockSource>> {
        let format = F::build_within(&self.0, seed, max_setup_memory)?;
        Ok(Box::new(Generator::new(format, strategy).with_compression(compression)))
    }

    fn setup_memory(&self) -> Result<SetupMemory> {
        let mut memory = F::setup_memory(&self.0)?;
        // What `build` adds around the format: the boxed generator and the format's shared handle
        // (its value and two reference counts).
        let generator =
            std::mem::size_of::<Generator<F>>() + std::mem::size_of::<F>() + 2 * std::mem::size_of::<usize>();
        memory.add("generator", generator as u64, Vec::new);
        Ok(memory)
    }

    fn warnings(&self) -> Vec<String> {
        F::warnings(&self.0)
    }

    fn for_transport(&self, transport: Transport) -> Result<Option<Arc<dyn ErasedConfig>>> {
        Ok(F::for_transport(&self.0, transport)?.map(|c| Arc::new(Typed::<F>(c)) as Arc<dyn ErasedConfig>))
    }

    #[cfg(feature = "config-files")]
    fn to_yaml(&self) -> std::result::Result<String, String> {
        serde_norway::to_string(&self.0).map_err(|e| e.to_string())
    }

    fn as_any(&self) -> &dyn Any {
        &self.0
    }

    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A configuration of one format, validated when it is built. Cloning shares the config.
#[derive(Clone)]
pub struct FormatConfig {
    spec: FormatSpec,
    config: Arc<dyn ErasedConfig>,
    compression: Compression,
    selection: Option<Arc<Selection>>,
    max_setup_memory: u64,
}

impl FormatConfig {
    /// Wraps a typed config of format `F`.
    pub fn new<F: Configured>(config: F::Config) -> Self {
        Self {
            spec: FormatSpec::of::<F>(),
            config: Arc::new(Typed::<F>(config)),
            compression: Compression::None,
            selection: None,
            max_setup_memory: DEFAULT_MAX_SETUP_MEMORY,
        }
    }

    /// The default config of format `F`.
    pub fn default_of<F: Configured>() -> Self {
        Self::new::<F>(F::Config::default())
    }

    /// Parses a config of format `F` from YAML: the config itself, or a lading-style
    /// `variant:` document naming [`Configured::LADING_PATH`]. An empty document gives the
    /// defaults.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] naming `origin` and the parser's complaint (unknown key, bad value).
    #[cfg(feature = "config-files")]
    pub fn parse<F: Configured>(text: &str, origin: &Path) -> Result<Self> {
        Ok(Self::new::<F>(crate::config::from_yaml(text, origin, F::LADING_PATH)?))
    }

    /// The format's spec.
    pub fn spec(&self) -> FormatSpec {
        self.spec
    }

    /// The format's name.
    pub fn name(&self) -> &'static str {
        self.spec.name()
    }

    /// The typed config, when this is a config of format `F`.
    pub fn get<F: Configured>(&self) -> Option<&F::Config> {
        self.config.as_any().downcast_ref::<F::Config>()
    }

    /// The config to build blocks from when they travel over `transport`: this one, or the
    /// format's change to it ([`Configured::for_transport`]), with the same compression,
    /// selection and setup-memory ceiling.
    ///
    /// # Errors
    /// [`Error::Config`] when the config cannot travel over `transport`.
    pub fn for_transport(&self, transport: Transport) -> Result<Self> {
        Ok(match self.config.for_transport(transport)? {
            Some(config) => Self { config, ..self.clone() },
            None => self.clone(),
        })
    }

    /// How the format's blocks are delivered ([`Configured::DELIVERY`]).
    pub fn delivery(&self) -> &Delivery {
        self.spec.delivery()
    }

    /// Validates the config, checks its setup memory against the ceiling
    /// ([`FormatConfig::max_setup_memory`]), builds the format from `seed`, and binds it to
    /// `strategy` (and to the config's compression).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid field; [`Error::SetupMemory`] over the ceiling (nothing
    /// is allocated); [`Error::Allocation`] when the system refuses setup memory.
    pub fn build(&self, seed: u64, strategy: Strategy) -> Result<Box<dyn BlockSource>> {
        self.config.build(seed, strategy, self.compression, self.max_setup_memory)
    }

    /// The same config with budgets on blocks compressed with `compression`.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The compression budgets apply to.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// An upper bound on the heap building this config takes, by part, computed without
    /// building it (see [`crate::kit`]).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid field.
    pub fn setup_memory(&self) -> Result<SetupMemory> {
        self.config.setup_memory()
    }

    /// Lines saying how this (valid) config makes the receiving agent normalize or truncate
    /// what it gets; empty for most configs. The command line prints them on stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.config.warnings()
    }

    /// The same config with another setup-memory ceiling, in bytes (default
    /// [`DEFAULT_MAX_SETUP_MEMORY`], 1 GiB).
    #[must_use]
    pub fn with_max_setup_memory(mut self, bytes: u64) -> Self {
        self.max_setup_memory = bytes;
        self
    }

    /// The setup-memory ceiling [`FormatConfig::build`] checks, in bytes.
    pub fn max_setup_memory(&self) -> u64 {
        self.max_setup_memory
    }

    /// The config as YAML, as `--config` would read it.
    ///
    /// # Errors
    /// Never in practice; a serialization failure is reported as a config error.
    #[cfg(feature = "config-files")]
    pub fn to_yaml(&self) -> Result<String> {
        self.config.to_yaml().map_err(|e| Error::config(self.name(), "<config>", e))
    }

    /// The same config with `auto` resolved through `selection` instead of the embedded one.
    /// [`crate::Registry`] attaches its selection to every config it makes.
    #[must_use]
    pub fn with_selection(mut self, selection: Arc<Selection>) -> Self {
        self.selection = Some(selection);
        self
    }

    /// The concrete strategy `choice` means for this format at `block_size`: a fixed strategy
    /// as it is; `auto` from the attached selection (or the embedded one), which falls back to
    /// the fallback, `reuse-encode-once`, for a format it has no entries for.
    pub fn resolve(&self, choice: StrategyChoice, block_size: u64) -> Strategy {
        match (choice, &self.selection) {
            (StrategyChoice::Fixed(s), _) => s,
            (StrategyChoice::Auto, Some(sel)) => sel.resolve(self.name(), self.compression, block_size),
            (StrategyChoice::Auto, None) => crate::selection::resolve_auto(self.name(), self.compression, block_size),
        }
    }
}

impl fmt::Debug for FormatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FormatConfig({}: ", self.name())?;
        self.config.debug(f)?;
        f.write_str(")")
    }
}

/// The type-erased description of one registered format. Cheap to copy.
#[derive(Clone, Copy)]
pub struct FormatSpec {
    name: &'static str,
    about: &'static str,
    lading_path: &'static [&'static str],
    sample: SampleRendering,
    delivery: Delivery,
    default_config: fn() -> FormatConfig,
    #[cfg(feature = "config-files")]
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
            delivery: F::DELIVERY,
            default_config: FormatConfig::default_of::<F>,
            #[cfg(feature = "config-files")]
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

    /// How the format's blocks are delivered ([`Configured::DELIVERY`]).
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The format's default configuration.
    pub fn default_config(&self) -> FormatConfig {
        (self.default_config)()
    }

    /// Parses a config from YAML (plain or lading-wrapped); `origin` names the source in errors.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] naming `origin` and the parser's complaint.
    #[cfg(feature = "config-files")]
    pub fn parse_config(&self, text: &str, origin: &Path) -> Result<FormatConfig> {
        (self.parse_config)(text, origin)
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the file cannot be read or parsed.
    #[cfg(feature = "config-files")]
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
