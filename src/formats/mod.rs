//! The registry of formats: names, configs, YAML loading and run-time construction.
//!
//! Adding a format takes its module (a `Config` and a [`Configured`] impl) and one line in the
//! `formats!` invocation below. Nothing else in the crate lists formats.

use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::format::Configured;
use crate::generator::{BlockSource, Generator};
use crate::strategy::Strategy;

macro_rules! formats {
    ($( $variant:ident => $module:ident :: $ty:ident, $name:literal, lading: [$($lading:literal),+] ;)*) => {
        $( pub mod $module; )*

        /// A format payforge can generate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FormatKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl FormatKind {
            /// Every format, in the order reports list them.
            pub const ALL: &'static [FormatKind] = &[$(FormatKind::$variant),*];

            /// The command-line name.
            pub const fn name(self) -> &'static str {
                match self { $(FormatKind::$variant => $name,)* }
            }

            /// The key path of this format under lading's `variant:`.
            pub const fn lading_path(self) -> &'static [&'static str] {
                match self { $(FormatKind::$variant => &[$($lading),+],)* }
            }

            /// The default configuration.
            pub fn default_config(self) -> FormatConfig {
                match self { $(FormatKind::$variant => FormatConfig::$variant(Default::default()),)* }
            }

            /// Parses this format's config from YAML (plain or lading-wrapped).
            ///
            /// # Errors
            /// [`Error::ConfigFile`] naming the file and the parser's complaint.
            pub fn parse_config(self, text: &str, origin: &Path) -> Result<FormatConfig> {
                match self {
                    $(FormatKind::$variant => Ok(FormatConfig::$variant(
                        crate::config::from_yaml(text, origin, self.lading_path())?,
                    )),)*
                }
            }
        }

        /// A validated-on-build configuration of one format.
        // Configs are read once per run, so a variant's size does not matter.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone)]
        pub enum FormatConfig {
            $(
                #[doc = concat!("Config of `", $name, "`.")]
                $variant(<$module::$ty as Configured>::Config),
            )*
        }

        impl FormatConfig {
            /// Which format this configures.
            pub fn kind(&self) -> FormatKind {
                match self { $(FormatConfig::$variant(_) => FormatKind::$variant,)* }
            }

            /// Validates the config, builds the format from `seed`, and binds it to `strategy`.
            ///
            /// # Errors
            /// [`Error::Config`] for an invalid field.
            pub fn build(&self, seed: u64, strategy: Strategy) -> Result<Box<dyn BlockSource>> {
                match self {
                    $(FormatConfig::$variant(c) => {
                        let format = <$module::$ty as Configured>::from_config(c, seed)?;
                        Ok(Box::new(Generator::new(format, strategy)))
                    })*
                }
            }

            /// The config as YAML, as `--config` would read it.
            ///
            /// # Errors
            /// Never in practice; serialization errors are reported as config errors.
            pub fn to_yaml(&self) -> Result<String> {
                let text = match self { $(FormatConfig::$variant(c) => serde_norway::to_string(c),)* };
                text.map_err(|e| Error::config(self.kind().name(), "<config>", e.to_string()))
            }
        }
    };
}

formats! {
    Syslog5424 => syslog5424::Syslog5424, "syslog5424", lading: ["syslog5424"];
    DatadogLogs => datadog_logs::DatadogLogs, "datadog-logs", lading: ["datadog_log"];
    DogStatsD => dogstatsd::DogStatsD, "dogstatsd", lading: ["dogstatsd"];
    TraceV04 => trace_v04::TraceV04, "trace-v04", lading: ["trace_agent", "v0.4"];
}

impl FormatKind {
    /// Reads and parses a config file for this format.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the file cannot be read or parsed.
    pub fn load_config(self, path: &Path) -> Result<FormatConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        self.parse_config(&text, path)
    }

    /// The names of all formats, comma separated, for messages.
    pub fn names() -> String {
        FormatKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for FormatKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FormatKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        FormatKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::argument("format", s, format!("expected one of {}", FormatKind::names())))
    }
}
