//! A Datadog logs intake array: JSON, the seven fields with their types, statuses the intake
//! knows, `key:value` tags, embedded JSON messages that parse, timestamps in range.

use std::collections::BTreeSet;

use serde_json::Value;

const FIELDS: [&str; 7] = ["message", "status", "timestamp", "hostname", "service", "ddsource", "ddtags"];
/// The statuses the intake recognizes.
pub const STATUSES: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"];

/// Checks one block and returns (entries, structured messages).
pub fn check_block(bytes: &[u8], budget: usize, ts: (i64, i64)) -> (usize, usize) {
    assert!(bytes.len() <= budget, "{} bytes over a budget of {budget}", bytes.len());
    let entries: Vec<Value> = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not a JSON array: {e}: {}", String::from_utf8_lossy(bytes)));
    assert!(!entries.is_empty());
    let mut structured = 0;
    for entry in &entries {
        let obj = entry.as_object().expect("entry is an object");
        assert_eq!(obj.keys().map(String::as_str).collect::<BTreeSet<_>>(), FIELDS.into_iter().collect());
        let timestamp = obj["timestamp"].as_i64().expect("timestamp is an i64");
        assert!((ts.0..=ts.1).contains(&timestamp), "timestamp {timestamp} out of range");
        for key in ["message", "status", "hostname", "service", "ddsource", "ddtags"] {
            let s = obj[key].as_str().unwrap_or_else(|| panic!("{key} is a string: {entry}"));
            assert!(!s.is_empty(), "{key} is empty");
        }
        let status = obj["status"].as_str().unwrap();
        assert!(STATUSES.contains(&status), "status {status}");
        for tag in obj["ddtags"].as_str().unwrap().split(',') {
            let (k, v) = tag.split_once(':').unwrap_or_else(|| panic!("tag {tag:?} is not key:value"));
            assert!(!k.is_empty() && !v.is_empty(), "tag {tag:?}");
        }
        let message = obj["message"].as_str().unwrap();
        if message.starts_with('{') {
            let inner: Value = serde_json::from_str(message).unwrap_or_else(|e| panic!("{e}: {message}"));
            let inner = inner.as_object().expect("embedded message is an object");
            assert_eq!(inner["level"].as_str(), Some(status));
            assert_eq!(inner["logger"], obj["service"]);
            assert!(inner["msg"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(inner["duration_ms"].is_u64());
            assert!(inner["dd"]["trace_id"].as_str().is_some_and(|id| id.parse::<u64>().is_ok()));
            structured += 1;
        }
    }
    (entries.len(), structured)
}
