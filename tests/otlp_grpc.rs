//! `send` into a real OTLP/gRPC receiver: opentelemetry-proto's generated tonic services served by
//! tonic on a loopback port the test binds. tonic and prost decode every call; the receiver
//! counts its members (`Resource*` entries; for traces, distinct trace ids) and records, and
//! those are the members `send` reports. Also: gzip and zstd messages (`grpc-encoding`), retries of `UNAVAILABLE` counted
//! exactly, a non-retryable status rejected, partial success counted, and a format without a
//! gRPC method refused before anything is sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::send;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// What the receiver saw, and how it answers.
#[derive(Default)]
struct Seen {
    /// Calls answered, in order.
    calls: AtomicU64,
    /// Calls decoded and accepted.
    accepted: AtomicU64,
    /// `Resource*` entries and records of the accepted calls.
    members: AtomicU64,
    records: AtomicU64,
    /// The `grpc-encoding` of each call.
    encodings: Mutex<Vec<String>>,
    /// The first this many calls are answered with this status, not accepted.
    fail_first: u64,
    fail_with: Option<tonic::Code>,
    /// Log records every accepted logs call reports rejected (partial success).
    reject_each: i64,
}

impl Seen {
    /// Counts a call; the status to fail it with, if it is one of the first `fail_first`.
    fn call<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let encoding = request.metadata().get("grpc-encoding").map_or("identity", |v| v.to_str().unwrap());
        self.encodings.lock().unwrap().push(encoding.to_owned());
        match self.fail_with {
            Some(code) if n < self.fail_first => Err(Status::new(code, "not now")),
            _ => Ok(()),
        }
    }

    fn accept(&self, members: usize, records: usize) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        self.members.fetch_add(members as u64, Ordering::SeqCst);
        self.records.fetch_add(records as u64, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Receiver(Arc<Seen>);

#[tonic::codegen::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.0.call(&request)?;
        let body = request.into_inner();
        let records = body.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum();
        self.0.accept(body.resource_logs.len(), records);
        let partial_success = (self.0.reject_each > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: self.0.reject_each,
            error_message: "too old".into(),
        });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

#[tonic::codegen::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.call(&request)?;
        let body = request.into_inner();
        let records = body.resource_metrics.iter().flat_map(|r| &r.scope_metrics).map(|s| s.metrics.len()).sum();
        self.0.accept(body.resource_metrics.len(), records);
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::codegen::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.call(&request)?;
        let body = request.into_inner();
        // A member of otlp-traces is one trace (a `ResourceSpans` per service it visits).
        let spans: Vec<_> = body.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect();
        let traces: std::collections::HashSet<&[u8]> = spans.iter().map(|s| s.trace_id.as_slice()).collect();
        self.0.accept(traces.len(), spans.len());
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// A tonic server with the three OTLP services on a port of 127.0.0.1, stopped when dropped.
struct Server {
    url: String,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(seen: Seen) -> Self {
        let seen = Arc::new(seen);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("grpc://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let receiver = Receiver(seen.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let zip = |s: LogsServiceServer<Receiver>| {
                    s.accept_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Zstd)
                };
                tonic::transport::Server::builder()
                    .add_service(zip(LogsServiceServer::new(receiver.clone())))
                    .add_service(
                        MetricsServiceServer::new(receiver.clone()).accept_compressed(CompressionEncoding::Gzip),
                    )
                    .add_service(TraceServiceServer::new(receiver))
                    .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self { url, seen, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `send FORMAT --to grpc://...` for 1 MiB of 64 KiB blocks.
fn run(server: &Server, format: &str, extra: &[&str]) -> common::Sent {
    let mut args = vec![format, "--to", &server.url, "--block-size", "64KiB", "--bytes", "1MiB", "--cache", "1MiB"];
    args.extend_from_slice(extra);
    send(&args)
}

#[test]
fn otlp_logs_metrics_and_traces_reach_a_tonic_receiver() {
    for (format, extra, encoding) in [
        ("otlp-logs", &[][..], "identity"),
        ("otlp-logs", &["--compression", "gzip"][..], "gzip"),
        ("otlp-logs", &["--compression", "zstd"][..], "zstd"),
        ("otlp-metrics", &["--compression", "gzip"][..], "gzip"),
        ("otlp-traces", &[][..], "identity"),
    ] {
        let server = Server::start(Seen::default());
        let sent = run(&server, format, extra);
        assert!(sent.output.status.success(), "{format} {extra:?}: {}", sent.stderr());
        let seen = &server.seen;
        let accepted = seen.accepted.load(Ordering::SeqCst);
        assert!(accepted > 0);
        assert_eq!(accepted, seen.calls.load(Ordering::SeqCst));
        assert_eq!(accepted, sent.get("blocks_sent"), "{}", sent.summary);
        assert_eq!(seen.members.load(Ordering::SeqCst), sent.get("members_sent"), "{}", sent.summary);
        assert!(seen.encodings.lock().unwrap().iter().all(|e| e == encoding), "{:?}", seen.encodings);
        assert_eq!(sent.summary["grpc_status"]["0"].as_u64(), Some(accepted), "{}", sent.summary);
        assert_eq!(sent.get("errors") + sent.get("retries") + sent.get("rejected_blocks"), 0, "{}", sent.summary);
        eprintln!(
            "{format} {extra:?}: {accepted} calls, {} members and {} records decoded by tonic, {} members sent",
            seen.members.load(Ordering::SeqCst),
            seen.records.load(Ordering::SeqCst),
            sent.get("members_sent")
        );
    }
}

/// `UNAVAILABLE` is retried: every refused call is one error and one retry, and each block is
/// accepted once; a partial success counts its rejected records.
#[test]
fn unavailable_is_retried_and_partial_success_counted() {
    let seen = Seen { fail_first: 3, fail_with: Some(tonic::Code::Unavailable), reject_each: 7, ..Seen::default() };
    let server = Server::start(seen);
    let sent = run(&server, "otlp-logs", &["--max-retries", "5"]);
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let accepted = server.seen.accepted.load(Ordering::SeqCst);
    assert_eq!(server.seen.calls.load(Ordering::SeqCst), accepted + 3);
    assert_eq!((sent.get("errors"), sent.get("retries")), (3, 3), "{}", sent.summary);
    assert_eq!(sent.get("blocks_sent"), accepted, "{}", sent.summary);
    assert_eq!(sent.get("rejected_records"), 7 * accepted, "{}", sent.summary);
    assert_eq!(sent.summary["grpc_status"]["14"].as_u64(), Some(3), "{}", sent.summary);
    assert!(sent.stderr().contains("grpc status: 0: "), "{}", sent.stderr());
}

/// `INVALID_ARGUMENT` is not retried: the block counts as rejected.
#[test]
fn invalid_argument_is_rejected_without_retries() {
    let seen = Seen { fail_first: 1, fail_with: Some(tonic::Code::InvalidArgument), ..Seen::default() };
    let server = Server::start(seen);
    let sent = run(&server, "otlp-traces", &[]);
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!((sent.get("rejected_blocks"), sent.get("retries")), (1, 0), "{}", sent.summary);
    assert_eq!(sent.summary["grpc_status"]["3"].as_u64(), Some(1), "{}", sent.summary);
    assert_eq!(sent.get("blocks_sent"), server.seen.accepted.load(Ordering::SeqCst));
}

/// A format that declares no gRPC method is refused before the cache is built, naming it.
#[test]
fn a_format_without_a_grpc_method_is_refused() {
    let sent = send(&["dogstatsd", "--to", "grpc://127.0.0.1:9", "--bytes", "1KiB"]);
    assert!(!sent.output.status.success());
    let err = sent.stderr();
    assert!(err.contains("grpc://127.0.0.1:9") && err.contains("dogstatsd declares no gRPC method"), "{err}");
}

/// lading's OTLP traces CI config (a `grpc` generator) runs against the receiver, `--to` and
/// `--bytes` overriding the file.
#[test]
fn a_lading_grpc_generator_runs() {
    let server = Server::start(Seen::default());
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lading/otel_traces_grpc.yaml");
    let sent = send(&["--lading-config", file.to_str().unwrap(), "--to", &server.url, "--bytes", "2MiB"]);
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert_eq!(sent.summary["format"].as_str(), Some("otlp-traces"), "{}", sent.summary);
    assert_eq!(sent.get("blocks_sent"), server.seen.accepted.load(Ordering::SeqCst));
    assert_eq!(sent.get("members_sent"), server.seen.members.load(Ordering::SeqCst));
}
