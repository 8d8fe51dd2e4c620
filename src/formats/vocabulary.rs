//! Words and names more than one format draws from, kept in one place so the formats' content
//! stays alike where it should (a service is named the same way in Datadog logs and in OTLP
//! resources) and a list is fixed once.

/// Words of log message phrases. A few need JSON escaping (quotes, backslashes, a stack-trace line
/// with a newline and a tab) and one is not ASCII, so escaping is exercised at both levels.
pub const LOG_WORDS: &[&str] = &[
    "request",
    "completed",
    "failed",
    "user",
    "order",
    "payment",
    "timeout",
    "connection",
    "retrying",
    "cache",
    "miss",
    "hit",
    "database",
    "query",
    "took",
    "upstream",
    "returned",
    "status",
    "processing",
    "batch",
    "records",
    "received",
    "sent",
    "queue",
    "consumer",
    "lag",
    "session",
    "expired",
    "token",
    "refreshed",
    "invalid",
    "input",
    "for",
    "field",
    "the",
    "a",
    "to",
    "from",
    "with",
    "after",
    "attempt",
    "handler",
    "started",
    "stopped",
    "worker",
    "job",
    "scheduled",
    "checkout",
    "cart",
    "item",
    "inventory",
    "reserved",
    "released",
    "lock",
    "acquired",
    "shard",
    "replica",
    "leader",
    "elected",
    "healthcheck",
    "ok",
    "degraded",
    "latency",
    "p99",
    "exceeded",
    "threshold",
    "memory",
    "usage",
    "gc",
    "pause",
    "heap",
    "allocated",
    "thread",
    "pool",
    "exhausted",
    "rejected",
    "accepted",
    "tls",
    "handshake",
    "certificate",
    "verified",
    "dns",
    "lookup",
    "resolved",
    "socket",
    "closed",
    "reset",
    "by",
    "peer",
    "POST",
    "GET",
    "/api/v1/orders",
    "/healthz",
    "200",
    "404",
    "500",
    "503",
    "\"GET /api/v1/cart HTTP/1.1\"",
    "C:\\ProgramData\\app\\config.yaml",
    "\n\tat com.example.OrderService.process(OrderService.java:118)",
    "café",
];

/// Service names are `<domain>-<role>`, numbered once the combinations run out.
const SERVICE_DOMAINS: &[&str] = &[
    "checkout",
    "payment",
    "auth",
    "user",
    "cart",
    "search",
    "inventory",
    "shipping",
    "billing",
    "notification",
    "gateway",
    "catalog",
    "pricing",
    "recommendation",
    "fraud",
    "ledger",
];
const SERVICE_ROLES: &[&str] = &["api", "worker", "service", "web", "consumer", "cron", "grpc"];

/// [`LOG_WORDS`] but the last four, which exist to exercise JSON escaping and non-ASCII text:
/// plain words for formats whose bodies are not JSON.
pub const PLAIN_LOG_WORDS: &[&str] = LOG_WORDS.split_at(LOG_WORDS.len() - 4).0;

/// Bytes of the longest of [`PLAIN_LOG_WORDS`].
pub const PLAIN_LOG_WORD_BYTES: usize = max_len(PLAIN_LOG_WORDS);

/// Distinct `<domain>-<role>` combinations.
pub const SERVICE_COMBOS: usize = SERVICE_DOMAINS.len() * SERVICE_ROLES.len();

/// Most bytes of a service name without its number: the longest domain, `-`, the longest role.
pub const SERVICE_NAME_BYTES: usize = max_len(SERVICE_DOMAINS) + 1 + max_len(SERVICE_ROLES);

const fn max_len(items: &[&str]) -> usize {
    let (mut i, mut max) = (0, 0);
    while i < items.len() {
        if items[i].len() > max {
            max = items[i].len();
        }
        i += 1;
    }
    max
}

/// Appends service name `combo` (below [`SERVICE_COMBOS`]): `<domain>-<role>`, then `-<round>`
/// when `round` is not 0 (the combinations ran out `round` times).
pub fn push_service_name(combo: usize, round: usize, out: &mut String) {
    out.push_str(SERVICE_DOMAINS.get(combo / SERVICE_ROLES.len()).copied().unwrap_or("app"));
    out.push('-');
    out.push_str(SERVICE_ROLES.get(combo % SERVICE_ROLES.len()).copied().unwrap_or("api"));
    if round > 0 {
        out.push('-');
        out.push_str(itoa::Buffer::new().format(round));
    }
}
