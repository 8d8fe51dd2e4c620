//! The registry of formats: a value that maps names to what the tools need.
//!
//! Nothing in payforge lists formats except [`Registry::builtin`]. The block cache, `calibrate`,
//! `check`, `auto` and the command line ([`crate::cli::run`]) take a registry or a
//! [`FormatConfig`] made by one, so a format defined in another crate gets every tool by being
//! registered:
//!
//! ```
//! use payforge::{Configured, Registry};
//!
//! let registry = Registry::builtin();
//! assert!(registry.get("syslog5424").is_ok());
//! let err = registry.get("no-such-format").unwrap_err().to_string();
//! assert!(err.contains("syslog5424"), "{err}"); // errors list what is registered
//!
//! // Registering a taken name is an error, never a silent override.
//! let mut registry = Registry::builtin();
//! assert!(registry.register::<payforge::formats::Syslog5424>().is_err());
//! # Ok::<(), payforge::Error>(())
//! ```
//!
//! `auto` resolves through the registry's [`Selection`]: the one embedded from
//! `payload-fixtures/strategies.toml`, overlaid with any selections added at run time
//! ([`Registry::with_selection`], [`Registry::load_selection`], `--selection FILE`). A format with
//! no entry anywhere gets [`crate::selection::FALLBACK`].

mod erased;

use std::path::Path;
use std::sync::Arc;

pub use erased::{FormatConfig, FormatSpec};

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::format::Configured;
use crate::selection::Selection;
use crate::strategy::{Strategy, StrategyChoice};

/// Formats by name, and the selection `auto` uses for them.
#[derive(Debug, Clone)]
pub struct Registry {
    specs: Vec<FormatSpec>,
    selection: Arc<Selection>,
    /// The first error of a builder call ([`Registry::with`], [`Registry::with_selection`]),
    /// reported by [`Registry::validate`] and by every lookup.
    deferred: Option<Arc<Error>>,
    /// The setup-memory ceiling given to every config this registry makes (`None`: each
    /// config's default, [`crate::DEFAULT_MAX_SETUP_MEMORY`]).
    max_setup_memory: Option<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// A registry with no formats, resolving `auto` through the embedded selection.
    pub fn empty() -> Self {
        Self { specs: Vec::new(), selection: Arc::new(Selection::embedded()), deferred: None, max_setup_memory: None }
    }

    /// The formats payforge ships: syslog5424, datadog-logs, dogstatsd, trace-v04, trace-v05 and the
    /// OTLP formats.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        if let Err(e) = registry.register_builtin() {
            registry.defer(e);
        }
        registry
    }

    /// The built-in formats, in the order reports list them. The registry knows the built-in
    /// formats; they do not know it.
    fn register_builtin(&mut self) -> Result<()> {
        use crate::formats::{
            DatadogLogs, DogStatsD, OtlpLogs, OtlpMetrics, OtlpTraces, Syslog5424, TraceV04, TraceV05,
        };
        self.register::<Syslog5424>()?
            .register::<DatadogLogs>()?
            .register::<DogStatsD>()?
            .register::<TraceV04>()?
            .register::<TraceV05>()?
            .register::<OtlpLogs>()?
            .register::<OtlpMetrics>()?
            .register::<OtlpTraces>()?;
        Ok(())
    }

    /// Adds format `F` under [`Configured::NAME`].
    ///
    /// # Errors
    /// [`Error::Argument`] when the name is taken or cannot be used on a command line.
    pub fn register<F: Configured>(&mut self) -> Result<&mut Self> {
        self.register_spec(FormatSpec::of::<F>())
    }

    /// Adds a format by its spec (see [`FormatSpec::of`]).
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn register_spec(&mut self, spec: FormatSpec) -> Result<&mut Self> {
        erased::check_name(spec.name())?;
        if self.specs.iter().any(|s| s.name() == spec.name()) {
            return Err(Error::argument("format name", spec.name(), "already registered"));
        }
        self.specs.push(spec);
        Ok(self)
    }

    /// Builder form of [`Registry::register`], for `cli::run(Registry::builtin().with::<F>())`.
    /// A failure is kept and reported by [`Registry::validate`] (which `cli::run` calls
    /// first) and by every lookup: a taken name never silently replaces a format.
    #[must_use]
    pub fn with<F: Configured>(mut self) -> Self {
        if let Err(e) = self.register::<F>() {
            self.defer(e);
        }
        self
    }

    /// Builder form of [`Registry::add_selection`]: overlays a selection file's text (e.g. one
    /// embedded by a downstream crate with `include_str!`). A parse error is deferred as in
    /// [`Registry::with`].
    #[must_use]
    pub fn with_selection(mut self, text: &str) -> Self {
        if let Err(e) = Selection::parse(text).map(|sel| self.add_selection(&sel)) {
            self.defer(e);
        }
        self
    }

    /// Overlays `selection`: for every format it has entries for, its entries replace the ones
    /// held so far; other formats keep theirs.
    pub fn add_selection(&mut self, selection: &Selection) {
        let mut merged = (*self.selection).clone();
        merged.overlay(selection);
        self.selection = Arc::new(merged);
    }

    /// Reads a selection file (as `calibrate --write` writes it) and overlays it.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when it cannot be read, [`Error::Config`] when it does not parse.
    pub fn load_selection(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        let sel = Selection::parse(&text)
            .map_err(|e| Error::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        self.add_selection(&sel);
        Ok(())
    }

    fn defer(&mut self, e: Error) {
        if self.deferred.is_none() {
            self.deferred = Some(Arc::new(e));
        }
    }

    /// Reports the first failure of a builder call.
    ///
    /// # Errors
    /// That failure, e.g. a name registered twice.
    pub fn validate(&self) -> Result<()> {
        match &self.deferred {
            None => Ok(()),
            Some(e) => Err(Error::Registry(e.to_string())),
        }
    }

    /// Every registered format, in registration order (the order reports list them).
    pub fn specs(&self) -> &[FormatSpec] {
        &self.specs
    }

    /// The names, comma separated, for messages and help.
    pub fn names(&self) -> String {
        self.specs.iter().map(FormatSpec::name).collect::<Vec<_>>().join(", ")
    }

    /// The format called `name`.
    ///
    /// # Errors
    /// [`Error::Argument`] naming `name` and listing the registered formats; a deferred builder
    /// failure ([`Registry::validate`]).
    pub fn get(&self, name: &str) -> Result<FormatSpec> {
        self.validate()?;
        self.specs
            .iter()
            .copied()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::argument("format", name, format!("expected one of {}", self.names())))
    }

    /// The selection `auto` resolves through.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The strategy `choice` means for `format` with `compression` at `block_size`.
    pub fn resolve(&self, format: &str, compression: Compression, choice: StrategyChoice, block_size: u64) -> Strategy {
        match choice {
            StrategyChoice::Fixed(s) => s,
            StrategyChoice::Auto => self.selection.resolve(format, compression, block_size),
        }
    }

    /// Attaches this registry's selection (and setup-memory ceiling, when one was set) to a
    /// config made elsewhere.
    pub fn bind(&self, config: FormatConfig) -> FormatConfig {
        let config = config.with_selection(Arc::clone(&self.selection));
        match self.max_setup_memory {
            Some(bytes) => config.with_max_setup_memory(bytes),
            None => config,
        }
    }

    /// Sets the setup-memory ceiling, in bytes, of every config this registry makes or binds
    /// from now on (`--max-setup-memory`).
    pub fn set_max_setup_memory(&mut self, bytes: u64) {
        self.max_setup_memory = Some(bytes);
    }

    /// The default config of format `name`.
    ///
    /// # Errors
    /// As [`Registry::get`].
    pub fn default_config(&self, name: &str) -> Result<FormatConfig> {
        Ok(self.bind(self.get(name)?.default_config()))
    }

    /// Parses a config of format `name` from YAML.
    ///
    /// # Errors
    /// As [`Registry::get`] and [`FormatSpec::parse_config`].
    #[cfg(feature = "config-files")]
    pub fn parse_config(&self, name: &str, text: &str, origin: &Path) -> Result<FormatConfig> {
        Ok(self.bind(self.get(name)?.parse_config(text, origin)?))
    }

    /// Reads a config file of format `name`, or its defaults when `path` is `None`.
    ///
    /// # Errors
    /// As [`Registry::get`] and `FormatSpec::load_config` (feature `config-files`).
    pub fn config(&self, name: &str, path: Option<&Path>) -> Result<FormatConfig> {
        let spec = self.get(name)?;
        Ok(self.bind(match path {
            #[cfg(feature = "config-files")]
            Some(path) => spec.load_config(path)?,
            #[cfg(not(feature = "config-files"))]
            Some(path) => {
                return Err(Error::ConfigFile {
                    path: path.to_path_buf(),
                    reason: "this build of payforge reads no config files: enable its `config-files` cargo feature"
                        .into(),
                });
            }
            None => spec.default_config(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{DatadogLogs, Syslog5424};

    #[test]
    fn builtin_names_in_order() {
        assert_eq!(
            Registry::builtin().names(),
            "syslog5424, datadog-logs, dogstatsd, trace-v04, trace-v05, otlp-logs, otlp-metrics, otlp-traces"
        );
    }

    #[test]
    fn duplicates_are_errors_and_builders_defer_them() {
        let mut r = Registry::empty();
        r.register::<Syslog5424>().unwrap();
        let err = r.register::<Syslog5424>().unwrap_err().to_string();
        assert!(err.contains("syslog5424") && err.contains("already registered"), "{err}");
        let r = Registry::builtin().with::<DatadogLogs>();
        let err = r.validate().unwrap_err().to_string();
        assert!(err.contains("datadog-logs") && err.contains("already registered"), "{err}");
        assert!(r.get("syslog5424").is_err(), "a broken registry answers no lookup");
    }

    #[test]
    fn unknown_format_lists_the_registered_ones() {
        let err = Registry::builtin().get("syslog").unwrap_err().to_string();
        assert!(err.contains("\"syslog\"") && err.contains("trace-v04"), "{err}");
    }

    #[test]
    fn names_must_fit_a_command_line() {
        for bad in ["", "a b", "a,b", ".hidden", "ü"] {
            assert!(erased::check_name(bad).is_err(), "{bad:?}");
        }
        assert!(erased::check_name("my-format_v1.0").is_ok());
    }

    #[test]
    fn runtime_selection_overlays_the_embedded_one() {
        let text = "version = 1\ndefault = \"reuse-encode-once\"\n\n[[selection]]\nformat = \"syslog5424\"\n\
                    block_size = 4096\nstrategy = \"fresh-reencode\"\n";
        let r = Registry::builtin().with_selection(text);
        assert_eq!(r.resolve("syslog5424", Compression::None, StrategyChoice::Auto, 1 << 20), Strategy::FRESH_REENCODE);
        let config = r.default_config("syslog5424").unwrap();
        assert_eq!(config.resolve(StrategyChoice::Auto, 1 << 20), Strategy::FRESH_REENCODE);
        // Other formats keep the embedded entries.
        let embedded = Selection::embedded().resolve("dogstatsd", Compression::None, 1 << 20);
        assert_eq!(r.resolve("dogstatsd", Compression::None, StrategyChoice::Auto, 1 << 20), embedded);
        assert!(Registry::builtin().with_selection("version = x").validate().is_err());
    }
}
