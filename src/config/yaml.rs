//! Format configs from YAML files (feature `config-files`): plain documents and lading's
//! `variant:` wrappers, with errors that point at the line in the user's file.

use serde::Deserialize;

use crate::error::{Error, Result};

/// Parses a format's config from YAML text. The document is either the config itself or a
/// lading-style wrapper `variant: {<lading_name>: {...}}` (one more level for nested variants such
/// as `trace_agent: {v0.4: {...}}`, listed in `path`), or `variant: <lading_name>` for a format
/// lading configures without fields. An empty document gives the defaults.
///
/// # Errors
/// [`Error::ConfigFile`] with the parser's message (which names the unknown key or bad value).
pub fn from_yaml<T>(text: &str, origin: &std::path::Path, path: &[&str]) -> Result<T>
where
    T: for<'de> Deserialize<'de> + Default,
{
    let bad = |reason: String| Error::ConfigFile { path: origin.to_path_buf(), reason };
    let value: serde_norway::Value = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
    if value.is_null() {
        return Ok(T::default());
    }
    if !value.is_mapping() {
        let found = match value {
            serde_norway::Value::Bool(_) => "a boolean",
            serde_norway::Value::Number(_) => "a number",
            serde_norway::Value::String(_) => "a string",
            serde_norway::Value::Sequence(_) => "a list",
            _ => "a tagged value",
        };
        return Err(bad(format!(
            "the document is {found}: a config is a map of the format's keys (`key: value` lines), \
             or a lading-style `variant:` document"
        )));
    }
    if value.get("generator").is_some() && value.get("variant").is_none() {
        return Err(bad("this is a lading experiment file (it has a `generator:` key): run it with \
             `payforge send FORMAT --lading-config FILE`, or give --config the generator's `variant:` \
             document alone"
            .into()));
    }
    if value.get("variant").is_none() {
        // Not wrapped: the config itself.
        return serde_norway::from_str(text).map_err(|e| bad(e.to_string()));
    }
    if value.as_mapping().map(|m| m.len()) != Some(1) {
        return Err(bad("a lading-style document must hold only the `variant` key".into()));
    }
    // The wrapper is walked while deserializing the text itself (not a re-serialized copy), so
    // every error, inside the wrapper or not, gives the line and column in the user's file.
    let mut full = vec!["variant"];
    full.extend_from_slice(path);
    let seed = Wrapped::<T> { path: &full, wanted: path, marker: std::marker::PhantomData };
    serde::de::DeserializeSeed::deserialize(seed, serde_norway::Deserializer::from_str(text))
        .map_err(|e| bad(e.to_string()))
}

/// Deserializes `T` from under the keys `path` (each level a map of exactly that one key, or the
/// last key as a plain string for a format lading configures without fields).
struct Wrapped<'p, T> {
    path: &'p [&'p str],
    /// The lading path, for messages.
    wanted: &'p [&'p str],
    marker: std::marker::PhantomData<T>,
}

impl<'p, T> Wrapped<'p, T> {
    fn mismatch<E: serde::de::Error>(&self, found: &str) -> E {
        E::custom(format!("expected `variant` to name `{}`, found {found}", self.wanted.join(".")))
    }
}

impl<'de, T: Deserialize<'de> + Default> serde::de::DeserializeSeed<'de> for Wrapped<'_, T> {
    type Value = T;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de> + Default> serde::de::Visitor<'de> for Wrapped<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path.first() {
            Some(key) => write!(f, "a map with the single key `{key}`"),
            None => f.write_str("a config"),
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<T, E> {
        if self.path.len() == 1 && self.path.first() == Some(&v) {
            Ok(T::default())
        } else {
            Err(self.mismatch(&format!("`{v}`")))
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<T, A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Err(serde::de::Error::custom("nothing to unwrap"));
        };
        let Some(key) = map.next_key::<String>()? else { return Err(self.mismatch("an empty map")) };
        if key != *first {
            return Err(self.mismatch(&format!("`{key}`")));
        }
        let value = if rest.is_empty() {
            map.next_value::<Option<T>>()?.unwrap_or_default()
        } else {
            map.next_value_seed(Wrapped::<T> { path: rest, wanted: self.wanted, marker: std::marker::PhantomData })?
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(self.mismatch(&format!("`{key}` and `{extra}` (one format per document)")));
        }
        Ok(value)
    }
}
