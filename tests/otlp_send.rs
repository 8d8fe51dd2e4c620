//! `send` of the OTLP formats into a local OTLP/HTTP receiver: every request goes to the
//! format's `/v1/...` path as `application/x-protobuf` (gzip-encoded with `--compression gzip`),
//! every body decodes with prost, and the members the receiver counts are the members `send`
//! reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod grammar;

use std::io::Read;

use common::receiver::{Receiver, Reply, Request};
use common::send;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message as _;

/// The body, gunzipped when the request says so.
fn body(r: &Request) -> Vec<u8> {
    match r.header("Content-Encoding") {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(r.body.as_slice()).read_to_end(&mut out).unwrap();
            out
        }
        None => r.body.clone(),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
}

fn run(format: &str, path: &str, extra: &[&str], count: impl Fn(&[u8]) -> u64) {
    let receiver = Receiver::http(|_| Reply::status(200));
    let mut args = vec![format, "--to", &receiver.url, "--block-size", "64KiB", "--bytes", "1MiB", "--cache", "1MiB"];
    args.extend_from_slice(extra);
    let sent = send(&args);
    let seen = receiver.finish();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    assert!(!seen.is_empty());
    let mut members = 0;
    for r in &seen {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", path));
        assert_eq!(r.header("Content-Type"), Some("application/x-protobuf"));
        members += count(&body(r));
    }
    assert_eq!(seen.len() as u64, sent.get("blocks_sent"), "{}", sent.summary);
    assert_eq!(members, sent.get("members_sent"), "{}", sent.summary);
    eprintln!("{format}: {} requests, {members} members counted by the receiver and by send", seen.len());
}

#[test]
fn otlp_logs_metrics_and_traces_reach_an_otlp_http_receiver() {
    run("otlp-logs", "/v1/logs", &[], |b| ExportLogsServiceRequest::decode(b).unwrap().resource_logs.len() as u64);
    run("otlp-logs", "/v1/logs", &["--compression", "gzip"], |b| {
        ExportLogsServiceRequest::decode(b).unwrap().resource_logs.len() as u64
    });
    run("otlp-metrics", "/v1/metrics", &[], |b| {
        ExportMetricsServiceRequest::decode(b).unwrap().resource_metrics.len() as u64
    });
    let window = payforge::formats::otlp::DEFAULT_WINDOW_MS;
    run("otlp-traces", "/v1/traces", &[], |b| grammar::otlp::check_traces(b, window).traces as u64);
}

/// A 2xx carrying `partial_success { rejected_log_records: N }` counts N rejected records per
/// answer in the summary (the blocks still count as sent); an answer without one counts none.
#[test]
fn partial_success_counts_rejected_records() {
    let receiver = Receiver::http(|r| {
        let mut reply = Reply::status(200).header("Content-Type", "application/x-protobuf");
        // Every other answer: partial_success { rejected_log_records: 300, error_message: "bad" }.
        reply.body =
            if r.n % 2 == 0 { vec![0x0a, 0x08, 0x08, 0xac, 0x02, 0x12, 0x03, b'b', b'a', b'd'] } else { Vec::new() };
        reply
    });
    let sent =
        send(&["otlp-logs", "--to", &receiver.url, "--block-size", "64KiB", "--bytes", "1MiB", "--cache", "1MiB"]);
    let seen = receiver.finish();
    assert!(sent.output.status.success(), "{}", sent.stderr());
    let partial = seen.iter().filter(|r| r.n % 2 == 0).count() as u64;
    assert!(partial > 0);
    assert_eq!(sent.get("rejected_records"), 300 * partial, "{}", sent.summary);
    assert_eq!(sent.get("blocks_sent"), seen.len() as u64);
    assert!(sent.stderr().contains("rejected records"), "{}", sent.stderr());
}
