//! apache-combined passes payforge's conformance kit (`payforge::testing`), as the built-in
//! formats do: every strategy gives exactly the naive block for random seeds, block indices and
//! budgets (1 byte to 4 MiB), edge budgets are errors naming the format, the same seed gives the
//! same bytes, fill is at least 99% at 64 KiB and 1 MiB, `min_member_len` is a lower bound
//! (and a close one), the reuse strategies allocate nothing per block once warm, setup stays
//! within its estimate, and arbitrary configs end in an error, never a panic.
//!
//! The configs: the defaults, the fixture's, one with everything short, and eight drawn at
//! random away from the defaults (tiny and large pools, every probability at its ends, long
//! paths, statuses without a body). `PROPTEST_CASES` raises the random cases per config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::kit::ConfRange;
use payforge::testing::Conformance;
use payforge::{BlockRng, FormatConfig};
use payforge_apache::ApacheCombined;
use payforge_apache::config::{Config, MethodWeight, StatusWeight};

// The kit counts allocations with payforge's global counter.
#[global_allocator]
static ALLOC: payforge::measure::GlobalCounter = payforge::measure::GlobalCounter;

fn fixture() -> Config {
    let path = "payload-fixtures/apache-combined/config.yaml";
    let config = FormatConfig::parse::<ApacheCombined>(&std::fs::read_to_string(path).unwrap(), path.as_ref()).unwrap();
    config.get::<ApacheCombined>().unwrap().clone()
}

/// Short everything, so that the member-length bound is tight enough to matter.
fn short() -> Config {
    Config {
        clients: 4,
        user_length: ConfRange::constant(1),
        path_depth: ConfRange::constant(0),
        query_probability: 0.0,
        referer_probability: 0.0,
        methods: vec![MethodWeight { method: "GET".into(), weight: 1.0 }],
        statuses: vec![StatusWeight { code: 304, weight: 1.0 }],
        ..Config::default()
    }
}

/// A config away from the defaults, drawn from `rng`: a tiny or large pool, probabilities at
/// their ends or between, long paths, perhaps a status without a body.
fn away_from_defaults(rng: &mut BlockRng) -> Config {
    let pool = rng.inclusive(1, 1999);
    let depth = rng.inclusive(0, 8);
    let p = match rng.below(3) {
        0 => 0.0,
        1 => 1.0,
        _ => rng.unit_f64(),
    };
    Config {
        clients: pool,
        paths: pool,
        referers: pool,
        user_agents: pool.min(300),
        path_depth: ConfRange::inclusive(0, depth),
        client_hostname_probability: p,
        user_probability: p,
        identity_probability: 1.0 - p,
        query_probability: p,
        referer_probability: 1.0 - p,
        bot_user_agent_probability: p,
        statuses: if rng.chance(0.5) {
            vec![StatusWeight { code: 204, weight: 1.0 }, StatusWeight { code: 200, weight: p }]
        } else {
            Config::default().statuses
        },
        response_bytes: ConfRange::inclusive(0, 1 << (depth * 4)),
        ..Config::default()
    }
}

#[test]
fn defaults_and_fixture_conform() {
    let report = Conformance::<ApacheCombined>::new().config("fixture", fixture()).min_fill(0.99).run_all().unwrap();
    eprintln!("{report}");
}

#[test]
fn other_configs_conform() {
    let mut rng = BlockRng::for_block(2026, 0);
    let mut kit = Conformance::<ApacheCombined>::new().without_defaults().config("short", short());
    for i in 0..8 {
        kit = kit.config(format!("random {i}"), away_from_defaults(&mut rng));
    }
    let report = kit.run_all().unwrap();
    eprintln!("{report}");
    // The bound is close: at least 30% of the shortest line seen, for the defaults and the
    // short config alike.
    let defaults = Conformance::<ApacheCombined>::new().check_min_member_len().unwrap();
    for (name, least, shortest) in report.min_member_len.iter().take(1).chain(&defaults.min_member_len) {
        assert!(least * 10 >= shortest * 3, "{name}: bound {least} is far below the shortest line {shortest}");
    }
}
