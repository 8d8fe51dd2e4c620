//! The pools behind a logs or metrics `Resource*` entry, built and estimated in one place.
//!
//! Why: `otlp-logs` and `otlp-metrics` draw their entries the same way (a resource from a pool,
//! scopes whose attributes come from the record attribute table, records with attribute sets
//! from that table) and take the same config keys for them, under their own prefix. One builder
//! and one estimate keep the two formats, and the estimate and what is built, from drifting
//! apart.

use crate::config::{ConfRange, validate_count};
use crate::error::Result;
use crate::rng::BlockRng;
use crate::setup::{SetupMemory, key};

use super::pools::{AttrTable, BytePool};
use super::resource::{self, ResourceShape};

/// What the pools are made of: the config's values, and its key names for error messages.
#[derive(Debug, Clone, Copy)]
pub struct EntryShape<'a> {
    /// The format's config key prefix (`otlp_logs`) and its per-record attribute key
    /// (`attributes_per_log`, under `contexts`).
    pub keys: (&'static str, &'static str),
    /// The pools' names in allocation errors: resources, attributes, scopes.
    pub what: [&'static str; 3],
    /// Distinct resources, drawn once.
    pub total_contexts: &'a ConfRange,
    /// Attributes per resource.
    pub attributes_per_resource: &'a ConfRange,
    /// Attributes per scope.
    pub attributes_per_scope: &'a ConfRange,
    /// Attributes per record.
    pub attributes_per_record: &'a ConfRange,
    /// Distinct services and hosts the resources name.
    pub services: u64,
    /// Distinct hosts.
    pub hosts: u64,
    /// Distinct scopes.
    pub scopes: u64,
    /// Values per attribute key.
    pub attribute_values: u64,
}

impl EntryShape<'_> {
    /// Checks the pool keys, naming the first invalid one (`otlp_logs.contexts.<key>`, ...).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for the first invalid field.
    pub fn validate(&self) -> Result<()> {
        let field = |key: &str| format!("{}.{key}", self.keys.0);
        self.total_contexts.validate(&field("contexts.total_contexts"), 1..=100_000)?;
        self.attributes_per_resource.validate(&field("contexts.attributes_per_resource"), 1..=64)?;
        self.attributes_per_scope.validate(&field("contexts.attributes_per_scope"), 0..=64)?;
        self.attributes_per_record.validate(&field(&format!("contexts.{}", self.keys.1)), 0..=255)?;
        validate_count(&field("services"), self.services, 100_000)?;
        validate_count(&field("hosts"), self.hosts, 100_000)?;
        validate_count(&field("scopes"), self.scopes, 10_000)?;
        validate_count(&field("attribute_values"), self.attribute_values, 4096)
    }

    /// Keys of the attribute table: enough for a record's or a scope's largest set.
    fn attribute_keys(&self) -> u64 {
        self.attributes_per_record.max().max(self.attributes_per_scope.max())
    }

    fn key(&self, field: &str, value: impl std::fmt::Display) -> String {
        key(&format!("{}.{field}", self.keys.0), value)
    }
}

/// Resources, the record attribute table, and scopes.
#[derive(Debug, Clone)]
pub struct EntryPools {
    /// Complete field-1 `Resource` fragments.
    pub resources: BytePool,
    /// The record (and scope) attribute table.
    pub attrs: AttrTable,
    /// Complete field-1 `InstrumentationScope` fragments.
    pub scopes: BytePool,
}

impl EntryPools {
    /// Builds the pools, drawing from `rng` in a fixed order (resources, attributes, scopes).
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] when setup memory is refused.
    pub fn build(rng: &mut BlockRng, shape: &EntryShape<'_>) -> Result<Self> {
        let [resources_what, attrs_what, scopes_what] = shape.what;
        let resource_shape = ResourceShape {
            count: shape.total_contexts.sample(rng),
            attrs: *shape.attributes_per_resource,
            services: shape.services,
            hosts: shape.hosts,
        };
        let resources = resource::build_resources(rng, &resource_shape, resources_what)?;
        let attrs = resource::build_record_attrs(rng, shape.attribute_keys(), shape.attribute_values, attrs_what)?;
        let scopes = resource::build_scopes(rng, shape.scopes, shape.attributes_per_scope, &attrs, scopes_what)?;
        Ok(Self { resources, attrs, scopes })
    }

    /// Adds what [`EntryPools::build`] reserves to `m`, each part with the keys that drive it.
    pub fn estimate(shape: &EntryShape<'_>, m: &mut SetupMemory) {
        m.add(
            "resources",
            resource::resources_bytes(shape.total_contexts.max(), shape.attributes_per_resource.max()),
            || {
                vec![
                    shape.key("contexts.total_contexts", shape.total_contexts),
                    shape.key("contexts.attributes_per_resource", shape.attributes_per_resource),
                ]
            },
        );
        m.add("attributes", resource::record_attrs_bytes(shape.attribute_keys(), shape.attribute_values), || {
            vec![
                shape.key(&format!("contexts.{}", shape.keys.1), shape.attributes_per_record),
                shape.key("attribute_values", shape.attribute_values),
            ]
        });
        m.add("scopes", resource::scopes_bytes(shape.scopes, shape.attributes_per_scope.max()), || {
            vec![
                shape.key("scopes", shape.scopes),
                shape.key("contexts.attributes_per_scope", shape.attributes_per_scope),
            ]
        });
    }
}
