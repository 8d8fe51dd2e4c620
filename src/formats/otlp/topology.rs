//! The service topology `otlp-traces` walks, in lading's `opentelemetry_traces` form: services
//! (plain, `http`, `grpc` or `database`) with operations, each calling the suboperations it lists
//! (`to: service/operation`, with a `rate` and a `max_repeat`).
//!
//! This module holds the config and its validation; [`super::traces`] compiles it at setup.
//! Every key lading documents loads; a key lading does not have is rejected by name.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A service of the topology: it becomes one resource (`service.name` and its
/// `resource_attributes`) and one instrumentation scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `service.name`.
    pub name: String,
    /// `http`, `grpc` or `database` (operations then derive span names and semantic-convention
    /// attributes), or absent for a plain service whose operations name their spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// gRPC service name (required for `grpc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcService>,
    /// Database system and name (required for `database`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseService>,
    /// The operations the service performs (at least one).
    pub operations: Vec<Operation>,
    /// Extra resource attributes (evaluated once per service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_attributes: Vec<Attribute>,
    /// Instrumentation scope name (default: empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_name: Option<String>,
    /// Instrumentation scope version.
    #[serde(default = "default_scope_version")]
    pub scope_version: String,
}

fn default_scope_version() -> String {
    "1.0.0".to_string()
}

/// What protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// Operations have `method` and `route`.
    Http,
    /// Operations have `method`; the service has `grpc.service`.
    Grpc,
    /// Operations have `query` and optionally `table`; the service has `database.system`.
    Database,
}

/// gRPC settings of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcService {
    /// The gRPC service (`ProductService`).
    pub service: String,
}

/// Database settings of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseService {
    /// `db.system.name` (`postgresql`, `redis`...).
    pub system: String,
    /// `db.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An operation of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// Lower-case letters, digits and single hyphens; referred to as `service/id`.
    pub id: String,
    /// Span name (plain services only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_name: Option<String>,
    /// HTTP method or gRPC method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Database table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Database query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Calls made, in order, each time the operation runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suboperations: Vec<Suboperation>,
    /// Extra span attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Marks a trace entry point (otherwise: any operation no one calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<bool>,
}

/// A call from an operation to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suboperation {
    /// `service-name/operation-id`.
    pub to: String,
    /// Probability that the call happens each time the caller runs.
    #[serde(default = "one")]
    pub rate: f64,
    /// The call repeats 1..=`max_repeat` times when it happens.
    #[serde(default = "one_u32")]
    pub max_repeat: u32,
    /// Attributes of the spans of this call (they win over the operation's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

fn one() -> f64 {
    1.0
}

fn one_u32() -> u32 {
    1
}

/// An attribute: a key and how its value is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// The key.
    pub key: String,
    /// The value.
    pub value: AttributeValue,
}

/// How an attribute value is made: a bare string or integer is a static value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    /// `value: 42`.
    Int(i64),
    /// `value: "text"`.
    Str(String),
    /// `value: {static: ...}`, `{random_int: {min, max}}`...
    Tagged(TaggedValue),
}

/// The map forms of [`AttributeValue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TaggedValue {
    /// A fixed string.
    Static(String),
    /// A fixed integer.
    StaticInt(i64),
    /// Random letters and digits of `length` characters (256 distinct values per attribute).
    RandomString {
        /// Characters, 1..=1024.
        length: usize,
    },
    /// A random integer in `min..=max` (256 distinct values per attribute).
    RandomInt {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
    },
    /// One of a built-in dictionary's values.
    Dictionary(Dictionary),
    /// One of these.
    OneOf(Vec<String>),
}

/// Built-in value lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dictionary {
    /// GET, POST...
    HttpMethods,
    /// 200, 404...
    HttpStatusCodes,
    /// OK, CANCELLED...
    GrpcStatusCodes,
    /// us-east-1...
    CloudRegions,
    /// production, staging...
    Environments,
}

impl Dictionary {
    /// The values.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Dictionary::HttpMethods => &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
            Dictionary::HttpStatusCodes => &[
                "200", "201", "204", "301", "302", "400", "401", "403", "404", "405", "409", "422", "429", "500",
                "502", "503", "504",
            ],
            Dictionary::GrpcStatusCodes => &[
                "OK",
                "CANCELLED",
                "UNKNOWN",
                "INVALID_ARGUMENT",
                "DEADLINE_EXCEEDED",
                "NOT_FOUND",
                "ALREADY_EXISTS",
                "PERMISSION_DENIED",
                "RESOURCE_EXHAUSTED",
                "FAILED_PRECONDITION",
                "ABORTED",
                "OUT_OF_RANGE",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS",
                "UNAUTHENTICATED",
            ],
            Dictionary::CloudRegions => {
                &["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"]
            }
            Dictionary::Environments => &["production", "staging", "development", "canary"],
        }
    }
}

/// Most services, operations (in all) and attributes per list a topology may have.
pub const MAX_SERVICES: usize = 256;
/// See [`MAX_SERVICES`].
pub const MAX_OPERATIONS: usize = 4096;
/// See [`MAX_SERVICES`].
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest string a topology may hold (names, routes, queries, values).
pub const MAX_TEXT: usize = 1024;

fn bad(field: String, value: impl std::fmt::Display, reason: &str) -> Error {
    Error::config(field, value, reason)
}

fn check_text(field: &str, s: &str) -> Result<()> {
    if s.len() > MAX_TEXT {
        return Err(bad(field.to_string(), format!("{} bytes", s.len()), "must be at most 1024 bytes"));
    }
    Ok(())
}

fn check_attributes(field: &str, attrs: &[Attribute]) -> Result<()> {
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(bad(field.to_string(), attrs.len(), "at most 64 attributes"));
    }
    for (i, a) in attrs.iter().enumerate() {
        let f = format!("{field}[{i}]");
        check_text(&format!("{f}.key"), &a.key)?;
        match &a.value {
            AttributeValue::Str(s) | AttributeValue::Tagged(TaggedValue::Static(s)) => check_text(&f, s)?,
            AttributeValue::Tagged(TaggedValue::RandomString { length }) if !(1..=MAX_TEXT).contains(length) => {
                return Err(bad(format!("{f}.value.random_string.length"), length, "must lie within 1..=1024"));
            }
            AttributeValue::Tagged(TaggedValue::RandomInt { min, max }) if min > max => {
                return Err(bad(
                    format!("{f}.value.random_int"),
                    format!("{{min: {min}, max: {max}}}"),
                    "min must not exceed max",
                ));
            }
            AttributeValue::Tagged(TaggedValue::OneOf(values)) => {
                if values.is_empty() || values.len() > 256 {
                    return Err(bad(format!("{f}.value.one_of"), values.len(), "must hold 1..=256 values"));
                }
                for v in values {
                    check_text(&format!("{f}.value.one_of"), v)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// Checks a topology as lading does (and payforge's size limits), naming the first bad field
/// (`otlp_traces.services[i]...`) and its value.
///
/// # Errors
/// [`crate::Error::Config`] for the first invalid field.
pub fn validate(services: &[Service]) -> Result<()> {
    if services.is_empty() {
        return Err(bad("otlp_traces.services".into(), "[]", "at least one service is required"));
    }
    if services.len() > MAX_SERVICES {
        return Err(bad("otlp_traces.services".into(), services.len(), "at most 256 services"));
    }
    let ops: usize = services.iter().map(|s| s.operations.len()).sum();
    if ops > MAX_OPERATIONS {
        return Err(bad("otlp_traces.services".into(), format!("{ops} operations"), "at most 4096 operations in all"));
    }
    for (i, s) in services.iter().enumerate() {
        let f = format!("otlp_traces.services[{i}]");
        if s.name.is_empty() {
            return Err(bad(format!("{f}.name"), "\"\"", "must not be empty"));
        }
        check_text(&format!("{f}.name"), &s.name)?;
        check_text(&format!("{f}.scope_version"), &s.scope_version)?;
        if let Some(n) = &s.scope_name {
            check_text(&format!("{f}.scope_name"), n)?;
        }
        if services.iter().take(i).any(|o| o.name == s.name) {
            return Err(bad(format!("{f}.name"), &s.name, "duplicate service name"));
        }
        if s.operations.is_empty() {
            return Err(bad(format!("{f}.operations"), "[]", "a service needs at least one operation"));
        }
        check_attributes(&format!("{f}.resource_attributes"), &s.resource_attributes)?;
        match (s.service_type, &s.grpc, &s.database) {
            (Some(ServiceType::Grpc), None, _) => {
                return Err(bad(format!("{f}.grpc"), "none", "a grpc service needs `grpc: {service: ...}`"));
            }
            (Some(ServiceType::Database), _, None) => {
                return Err(bad(format!("{f}.database"), "none", "a database service needs `database: {system: ...}`"));
            }
            (t, Some(_), _) if t != Some(ServiceType::Grpc) => {
                return Err(bad(format!("{f}.grpc"), &s.name, "only a grpc service has a `grpc` block"));
            }
            (t, _, Some(_)) if t != Some(ServiceType::Database) => {
                return Err(bad(format!("{f}.database"), &s.name, "only a database service has a `database` block"));
            }
            _ => {}
        }
        if let Some(g) = &s.grpc {
            if g.service.is_empty() {
                return Err(bad(format!("{f}.grpc.service"), "\"\"", "must not be empty"));
            }
            check_text(&format!("{f}.grpc.service"), &g.service)?;
        }
        if let Some(d) = &s.database {
            if d.system.is_empty() {
                return Err(bad(format!("{f}.database.system"), "\"\"", "must not be empty"));
            }
            check_text(&format!("{f}.database.system"), &d.system)?;
            if let Some(n) = &d.name {
                check_text(&format!("{f}.database.name"), n)?;
            }
        }
        for (j, op) in s.operations.iter().enumerate() {
            validate_operation(services, s, &format!("{f}.operations[{j}]"), op)?;
            if s.operations.iter().take(j).any(|o| o.id == op.id) {
                return Err(bad(format!("{f}.operations[{j}].id"), &op.id, "duplicate operation id"));
            }
        }
    }
    if !services.iter().flat_map(|s| &s.operations).any(|o| !o.suboperations.is_empty()) {
        return Err(bad(
            "otlp_traces.services".into(),
            "no suboperations",
            "at least one operation must have suboperations to define a call graph",
        ));
    }
    let called = |svc: &str, op: &str| {
        services
            .iter()
            .flat_map(|s| &s.operations)
            .flat_map(|o| &o.suboperations)
            .any(|c| c.to.split_once('/') == Some((svc, op)))
    };
    let has_root =
        services.iter().any(|s| s.operations.iter().any(|o| o.root == Some(true) || !called(&s.name, &o.id)));
    if !has_root {
        return Err(bad("otlp_traces.services".into(), "every operation is called", "mark an operation `root: true`"));
    }
    Ok(())
}

fn validate_operation(services: &[Service], s: &Service, f: &str, op: &Operation) -> Result<()> {
    if !valid_id(&op.id) {
        return Err(bad(format!("{f}.id"), &op.id, "lower-case letters, digits and single inner hyphens only"));
    }
    let present = [
        ("span_name", op.span_name.as_deref()),
        ("method", op.method.as_deref()),
        ("route", op.route.as_deref()),
        ("table", op.table.as_deref()),
        ("query", op.query.as_deref()),
    ];
    let (required, allowed): (&[&str], &[&str]) = match s.service_type {
        None => (&["span_name"], &["span_name"]),
        Some(ServiceType::Http) => (&["method", "route"], &["method", "route"]),
        Some(ServiceType::Grpc) => (&["method"], &["method"]),
        Some(ServiceType::Database) => (&["query"], &["query", "table"]),
    };
    for (name, value) in present {
        match value {
            Some(v) if !allowed.contains(&name) => {
                return Err(bad(format!("{f}.{name}"), v, "not used by this service type"));
            }
            Some(v) => check_text(&format!("{f}.{name}"), v)?,
            None if required.contains(&name) => {
                return Err(bad(format!("{f}.{name}"), "none", "required by this service type"));
            }
            None => {}
        }
        if required.contains(&name) && value.is_some_and(str::is_empty) {
            return Err(bad(format!("{f}.{name}"), "\"\"", "must not be empty"));
        }
    }
    check_attributes(&format!("{f}.attributes"), &op.attributes)?;
    if op.suboperations.len() > MAX_ATTRIBUTES {
        return Err(bad(format!("{f}.suboperations"), op.suboperations.len(), "at most 64 suboperations"));
    }
    for (k, sub) in op.suboperations.iter().enumerate() {
        let g = format!("{f}.suboperations[{k}]");
        if !sub.rate.is_finite() || !(0.0..=1.0).contains(&sub.rate) {
            return Err(bad(format!("{g}.rate"), sub.rate, "must be a probability between 0 and 1"));
        }
        if !(1..=64).contains(&sub.max_repeat) {
            return Err(bad(format!("{g}.max_repeat"), sub.max_repeat, "must lie within 1..=64"));
        }
        let target = sub.to.split_once('/').filter(|(a, b)| !a.is_empty() && !b.is_empty());
        let Some((svc, id)) = target else {
            return Err(bad(format!("{g}.to"), &sub.to, "must be `service-name/operation-id`"));
        };
        let Some(callee) = services.iter().find(|s| s.name == svc) else {
            return Err(bad(format!("{g}.to"), &sub.to, "no such service"));
        };
        if !callee.operations.iter().any(|o| o.id == id) {
            return Err(bad(format!("{g}.to"), &sub.to, "no such operation on that service"));
        }
        check_attributes(&format!("{g}.attributes"), &sub.attributes)?;
    }
    Ok(())
}

/// The topology of the default config: a storefront whose gateway calls gRPC services, a cache
/// and two databases.
pub fn default_services() -> Vec<Service> {
    let op = |id: &str| Operation {
        id: id.to_string(),
        span_name: None,
        method: None,
        route: None,
        table: None,
        query: None,
        suboperations: Vec::new(),
        attributes: Vec::new(),
        root: None,
    };
    let call = |to: &str, rate: f64, max_repeat: u32| Suboperation {
        to: to.to_string(),
        rate,
        max_repeat,
        attributes: Vec::new(),
    };
    let service = |name: &str, service_type: Option<ServiceType>, operations: Vec<Operation>| Service {
        name: name.to_string(),
        service_type,
        grpc: None,
        database: None,
        operations,
        resource_attributes: vec![Attribute {
            key: "deployment.environment.name".into(),
            value: AttributeValue::Tagged(TaggedValue::Dictionary(Dictionary::Environments)),
        }],
        scope_name: None,
        scope_version: default_scope_version(),
    };
    let http = |id: &str, method: &str, route: &str, calls: Vec<Suboperation>| Operation {
        method: Some(method.into()),
        route: Some(route.into()),
        suboperations: calls,
        ..op(id)
    };
    let grpc = |id: &str, method: &str, calls: Vec<Suboperation>| Operation {
        method: Some(method.into()),
        suboperations: calls,
        ..op(id)
    };
    let db = |id: &str, query: &str, table: Option<&str>| Operation {
        query: Some(query.into()),
        table: table.map(String::from),
        ..op(id)
    };
    let mut gateway = service(
        "frontend-gateway",
        Some(ServiceType::Http),
        vec![
            http(
                "get-product",
                "GET",
                "/api/v1/products/{id}",
                vec![call("product-service/get-product", 1.0, 1), call("recommendation-service/list", 0.3, 1)],
            ),
            http(
                "checkout",
                "POST",
                "/api/v1/checkout",
                vec![call("cart-service/get-cart", 1.0, 1), call("payment-service/charge", 1.0, 1)],
            ),
        ],
    );
    gateway.scope_name = Some("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp".into());
    let mut product = service(
        "product-service",
        Some(ServiceType::Grpc),
        vec![grpc(
            "get-product",
            "GetProduct",
            vec![call("redis-cache/get", 1.0, 1), call("products-db/select-product", 0.3, 1)],
        )],
    );
    product.grpc = Some(GrpcService { service: "shop.ProductService".into() });
    let mut recommendation = service(
        "recommendation-service",
        Some(ServiceType::Grpc),
        vec![grpc("list", "ListRecommendations", vec![call("products-db/select-related", 1.0, 2)])],
    );
    recommendation.grpc = Some(GrpcService { service: "shop.RecommendationService".into() });
    let mut cart = service(
        "cart-service",
        Some(ServiceType::Grpc),
        vec![grpc("get-cart", "GetCart", vec![call("redis-cache/get", 1.0, 1)])],
    );
    cart.grpc = Some(GrpcService { service: "shop.CartService".into() });
    let mut payment = service(
        "payment-service",
        Some(ServiceType::Grpc),
        vec![grpc("charge", "Charge", vec![call("orders-db/insert-order", 1.0, 1)])],
    );
    payment.grpc = Some(GrpcService { service: "shop.PaymentService".into() });
    let mut redis = service("redis-cache", Some(ServiceType::Database), vec![db("get", "GET product:{id}", None)]);
    redis.database = Some(DatabaseService { system: "redis".into(), name: None });
    let mut products = service(
        "products-db",
        Some(ServiceType::Database),
        vec![
            db("select-product", "SELECT * FROM products WHERE id = $1", Some("products")),
            db("select-related", "SELECT id, name FROM products WHERE category = $1 LIMIT 8", Some("products")),
        ],
    );
    products.database = Some(DatabaseService { system: "postgresql".into(), name: Some("shop".into()) });
    let mut orders = service(
        "orders-db",
        Some(ServiceType::Database),
        vec![db("insert-order", "INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)", Some("orders"))],
    );
    orders.database = Some(DatabaseService { system: "postgresql".into(), name: Some("orders".into()) });
    vec![gateway, product, recommendation, cart, payment, redis, products, orders]
}
