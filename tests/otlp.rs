//! The OTLP formats against the oracle: every block is walked strictly, decoded with prost and
//! opentelemetry-proto, and checked field by field (`tests/grammar/otlp.rs`); blocks are the same
//! under every strategy, fit their budget and fill it; lading's `opentelemetry_*` configs load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod grammar;

use grammar::otlp::{check_logs, check_metrics, check_traces};
use payforge::formats::{OtlpLogs, OtlpMetrics, OtlpTraces};
use payforge::{BlockRng, ErrorKind, FormatConfig, Registry, Strategy};
use proptest::prelude::*;

const WINDOW: (u64, u64) = (1_767_225_600_000, 1_830_297_599_999);

/// Block `index` of `seed` under every strategy (asserting they agree): bytes and members.
fn block(config: &FormatConfig, seed: u64, index: u64, budget: usize) -> Option<(Vec<u8>, usize)> {
    let mut first: Option<Option<(Vec<u8>, usize)>> = None;
    for strategy in Strategy::ALL {
        let mut source = config.build(seed, strategy).unwrap();
        let got = match source.next_block(&mut BlockRng::for_block(seed, index), budget) {
            Ok((bytes, filled)) => {
                assert_eq!(bytes.len(), filled.bytes);
                assert!(filled.bytes <= budget);
                Some((bytes.to_vec(), filled.members))
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Budget, "{e}");
                None
            }
        };
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(f, &got, "{strategy} differs, seed {seed} budget {budget}"),
        }
    }
    first.flatten()
}

#[test]
fn logs_blocks_decode_and_hold_every_invariant() {
    let config = FormatConfig::default_of::<OtlpLogs>();
    let mut kinds = std::collections::BTreeSet::new();
    let (mut records, mut traced, mut structured, mut severities) = (0, 0, 0, std::collections::BTreeSet::new());
    for (i, budget) in [4096usize, 65_536, 1 << 20].into_iter().enumerate() {
        for seed in [0u64, 42] {
            let (bytes, members) = block(&config, seed, i as u64, budget).unwrap();
            let s = check_logs(&bytes, WINDOW);
            assert_eq!(s.resources, members, "one ResourceLogs per member");
            if budget >= 65_536 {
                assert!(bytes.len() as f64 >= 0.97 * budget as f64, "fill {} of {budget}", bytes.len());
            }
            records += s.records;
            traced += s.traced;
            structured += s.structured;
            kinds.extend(s.kinds);
            severities.extend(s.severities);
        }
    }
    // Every AnyValue kind, every severity, part of the records traced, part structured.
    let all = ["array", "bool", "bytes", "double", "int", "kvlist", "string"];
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), all);
    assert_eq!(severities.into_iter().collect::<Vec<_>>(), [1, 5, 9, 13, 17, 21]);
    assert!(traced > records / 4 && traced < records * 3 / 4, "{traced} of {records} traced");
    assert!(structured > records / 10 && structured < records * 3 / 10, "{structured} of {records} structured");
}

#[test]
fn traces_walk_the_topology() {
    let config = FormatConfig::default_of::<OtlpTraces>();
    let (mut kinds, mut keys, mut services) = Default::default();
    let (mut errors, mut events, mut links, mut spans, mut traces) = (0, 0, 0, 0, 0);
    for (i, budget) in [4096usize, 65_536, 1 << 20].into_iter().enumerate() {
        for seed in [0u64, 42] {
            let (bytes, members) = block(&config, seed, i as u64, budget).unwrap();
            let s = check_traces(&bytes, WINDOW);
            assert_eq!(s.traces, members, "one trace per member");
            spans += s.spans;
            traces += s.traces;
            errors += s.errors;
            events += s.events;
            links += s.links;
            extend(&mut kinds, s.kinds);
            extend(&mut keys, s.keys);
            extend(&mut services, s.services);
        }
    }
    fn extend<T: Ord>(a: &mut std::collections::BTreeSet<T>, b: std::collections::BTreeSet<T>) {
        a.extend(b);
    }
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), [2, 3], "server and client spans");
    for key in [
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "rpc.system.name",
        "rpc.method",
        "rpc.response.status_code",
        "db.system.name",
        "db.operation.name",
        "db.namespace",
        "db.collection.name",
        "db.query.text",
    ] {
        assert!(keys.contains(key), "{key} missing");
    }
    // Every service of the default topology shows up as a resource (databases via client spans
    // only, so they never do).
    for s in ["frontend-gateway", "product-service", "recommendation-service", "cart-service", "payment-service"] {
        assert!(services.contains(s), "{s} missing");
    }
    assert!(spans > 5 * traces, "{spans} spans in {traces} traces");
    assert!(errors > 0 && events > 0 && links > 0, "errors {errors}, events {events}, links {links}");
}

#[test]
fn metrics_cover_every_kind() {
    let config = FormatConfig::default_of::<OtlpMetrics>();
    let mut kinds = std::collections::BTreeMap::new();
    let (mut points, mut exemplars) = (0, 0);
    for (i, budget) in [4096usize, 65_536, 1 << 20].into_iter().enumerate() {
        for seed in [0u64, 42] {
            let (bytes, members) = block(&config, seed, i as u64, budget).unwrap();
            let s = check_metrics(&bytes, WINDOW);
            assert_eq!(s.resources, members, "one ResourceMetrics per member");
            for (k, n) in s.kinds {
                *kinds.entry(k).or_insert(0) += n;
            }
            points += s.points;
            exemplars += s.exemplars;
        }
    }
    let names: Vec<_> = kinds.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "exponential-histogram",
            "gauge",
            "histogram",
            "sum-monotonic-cumulative",
            "sum-monotonic-delta",
            "sum-non-monotonic-cumulative",
            "sum-non-monotonic-delta"
        ]
    );
    assert!(exemplars > points / 20 && exemplars < points / 5, "{exemplars} exemplars in {points} points");
}

/// lading's CI fingerprint configs and the topology of its trace example, as `variant:`
/// documents, load; and what they produce decodes.
#[test]
fn lading_configs_load() {
    let registry = Registry::builtin();
    let logs = "variant:\n  opentelemetry_logs: {}\n";
    let traces = r#"
variant:
  opentelemetry_traces:
    services:
      - name: api-gateway
        service_type: http
        operations:
          - id: get-users
            method: GET
            route: "/users/{id}"
            suboperations:
              - to: user-service/get-user
      - name: user-service
        service_type: grpc
        grpc:
          service: UserService
        operations:
          - id: get-user
            method: GetUser
            suboperations:
              - to: postgres/select-users
      - name: postgres
        service_type: database
        database:
          system: postgresql
          name: mydb
        operations:
          - id: select-users
            table: users
            query: "SELECT * FROM users WHERE id = $1"
            suboperations: []
"#;
    // lading's metrics example (its `variant:`), and its CI config.
    let metrics = r#"
variant:
  opentelemetry_metrics:
    metric_weights:
      gauge: 50
      sum_delta: 25
      sum_cumulative: 25
    contexts:
      total_contexts:
        constant: 10000
      attributes_per_resource:
        inclusive:
          min: 1
          max: 64
      scopes_per_resource:
        inclusive:
          min: 1
          max: 32
      attributes_per_scope:
        inclusive:
          min: 0
          max: 4
      metrics_per_scope:
        inclusive:
          min: 1
          max: 128
      attributes_per_metric:
        inclusive:
          min: 0
          max: 255
"#;
    // The example's members (up to 32 scopes x 128 metrics x 255 attributes) run to megabytes:
    // a 1 MiB budget is refused as too small, a 64 MiB one holds them.
    for (text, budget) in [(metrics, 64usize << 20), ("variant:\n  opentelemetry_metrics: {}\n", 1 << 20)] {
        let config = registry.parse_config("otlp-metrics", text, "lading-otel-metrics.yaml".as_ref()).unwrap();
        let mut source = config.build(1, Strategy::REUSE_ENCODE_ONCE).unwrap();
        let (bytes, filled) = source.next_block(&mut BlockRng::for_block(1, 0), budget).unwrap();
        let s = check_metrics(bytes, WINDOW);
        assert_eq!(s.resources, filled.members);
    }
    let summary = "variant:\n  opentelemetry_metrics:\n    metric_weights: {summary: 10}\n";
    let err = registry
        .parse_config("otlp-metrics", summary, "summary.yaml".as_ref())
        .and_then(|c| c.build(0, Strategy::REUSE_ENCODE_ONCE).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("otlp_metrics.metric_weights.summary"), "{err}");
    let config = registry.parse_config("otlp-logs", logs, "otel_logs/lading.yaml".as_ref()).unwrap();
    let (bytes, _) = block(&config, 1, 0, 1 << 20).unwrap();
    let c = config.get::<OtlpLogs>().unwrap();
    check_logs(&bytes, (c.timestamp_ms.min(), c.timestamp_ms.max()));
    let config = registry.parse_config("otlp-traces", traces, "otel_traces/lading.yaml".as_ref()).unwrap();
    let (bytes, members) = block(&config, 1, 0, 65_536).unwrap();
    let s = check_traces(&bytes, WINDOW);
    assert_eq!(s.traces, members);
    // Each trace: gateway server, client to user-service, its server, client to postgres.
    assert_eq!(s.spans, 4 * members);
    assert_eq!(s.services.into_iter().collect::<Vec<_>>(), ["api-gateway", "user-service"]);
    // A key lading does not have is named.
    let bad = "variant:\n  opentelemetry_logs:\n    contexts:\n      total_context: {constant: 3}\n";
    let err = registry.parse_config("otlp-logs", bad, "bad.yaml".as_ref()).unwrap_err().to_string();
    assert!(err.contains("total_context"), "{err}");
    // A topology error names the field.
    let broken = traces.replace("postgres/select-users", "postgres/nope");
    let err = registry
        .parse_config("otlp-traces", &broken, "broken.yaml".as_ref())
        .and_then(|c| c.build(0, Strategy::REUSE_ENCODE_ONCE).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("suboperations[0].to") && err.contains("postgres/nope"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any budget: a block within it that decodes, the same under every strategy; or a budget
    /// error when not even one member fits.
    #[test]
    fn any_budget_gives_a_valid_block(seed in any::<u64>(), budget in 0usize..200_000, which in 0u8..3) {
        let config = match which {
            0 => FormatConfig::default_of::<OtlpLogs>(),
            1 => FormatConfig::default_of::<OtlpMetrics>(),
            _ => FormatConfig::default_of::<OtlpTraces>(),
        };
        if let Some((bytes, members)) = block(&config, seed, 3, budget) {
            let got = match which {
                0 => check_logs(&bytes, WINDOW).resources,
                1 => check_metrics(&bytes, WINDOW).resources,
                _ => check_traces(&bytes, WINDOW).traces,
            };
            prop_assert_eq!(got, members);
        }
    }
}

/// lading experiment files: the OTLP/HTTP generator of lading's metrics example and the gRPC
/// generator of its OTLP traces CI config load as `send` jobs; a gRPC `target_uri` naming another
/// method than the variant's is an error naming both.
#[test]
fn lading_experiment_files() {
    let registry = Registry::builtin();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lading");
    let job = payforge::send::lading::load(&registry, &dir.join("otel_metrics_http.yaml"), None).unwrap();
    assert_eq!(job.config.name(), "otlp-metrics");
    assert_eq!(job.target.http_url("/v1/metrics").unwrap(), "http://127.0.0.1:4318/v1/metrics");
    let path = dir.join("otel_traces_grpc.yaml");
    let job = payforge::send::lading::load(&registry, &path, None).unwrap();
    assert_eq!(job.config.name(), "otlp-traces");
    assert_eq!(job.target.to_string(), "grpc://127.0.0.1:4317");
    let text = std::fs::read_to_string(&path).unwrap();
    let wrong = text.replace(
        "http://127.0.0.1:4317",
        "http://127.0.0.1:4317/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    );
    let err = payforge::send::lading::parse(&registry, &wrong, &path, None).unwrap_err().to_string();
    assert!(err.contains("LogsService/Export") && err.contains("TraceService/Export"), "{err}");
    let right = text.replace(
        "http://127.0.0.1:4317",
        "http://127.0.0.1:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    assert!(payforge::send::lading::parse(&registry, &right, &path, None).is_ok());
}

/// A small block of each format, decoded (printed with `--nocapture` for people to read).
#[test]
fn small_blocks_decode_for_reading() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let logs = FormatConfig::default_of::<OtlpLogs>();
    let (bytes, members) = block(&logs, 7, 0, 2000).unwrap();
    let req = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(req.resource_logs.len(), members);
    eprintln!("otlp-logs, {} bytes:\n{req:#?}", bytes.len());
    let metrics = FormatConfig::default_of::<OtlpMetrics>();
    let (bytes, members) = block(&metrics, 7, 0, 3000).unwrap();
    let req = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(req.resource_metrics.len(), members);
    eprintln!("otlp-metrics, {} bytes:\n{req:#?}", bytes.len());
    let traces = Registry::builtin()
        .get("otlp-traces")
        .unwrap()
        .load_config("payload-fixtures/otlp-traces/config.yaml".as_ref())
        .unwrap();
    let (bytes, members) = block(&traces, 7, 0, 4000).unwrap();
    let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(check_traces(&bytes, WINDOW).traces, members);
    eprintln!("otlp-traces, {} bytes:\n{req:#?}", bytes.len());
}
