//! Adaptive retained capacity: after a burst of large blocks, a reuse generator gives memory back
//! once a whole window of blocks stays far below its peak (`payforge::retention`), for every
//! registered format and both reuse strategies. (That a fixed block size still allocates nothing
//! is `zero_alloc.rs`, which measures more blocks than a window.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::SHRINK_WINDOW;
use payforge::{BlockRng, Strategy};

const LARGE: usize = 4 << 20;
const SMALL: usize = 16 << 10;

#[test]
fn retained_bytes_fall_after_a_size_drop() {
    let mut figures = Vec::new();
    for &spec in payforge::Registry::builtin().specs() {
        let text = std::fs::read_to_string(format!("payload-fixtures/{}/config.yaml", spec.name())).unwrap();
        let config = spec.parse_config(&text, spec.name().as_ref()).unwrap();
        for strategy in [Strategy::REUSE_ENCODE_ONCE, Strategy::REUSE_REENCODE] {
            let mut source = config.build(1, strategy).unwrap();
            let mut index = 0u64;
            let mut run = |source: &mut Box<dyn payforge::BlockSource>, blocks: u32, budget: usize| {
                for _ in 0..blocks {
                    source.next_block(&mut BlockRng::for_block(1, index), budget).unwrap();
                    index += 1;
                }
                source.retained_bytes()
            };
            let large = run(&mut source, 4, LARGE);
            let small = run(&mut source, 2 * SHRINK_WINDOW, SMALL);
            // Back to large blocks: the buffers grow again, once.
            let again = run(&mut source, 4, LARGE);
            figures.push(format!(
                "{spec} {strategy}: {large} B at 4 MiB, {small} B after a drop to 16 KiB, {again} B back at 4 MiB"
            ));
            // datadog-logs stops at its 1000-entry cap (about 1.2 MB), the others fill 4 MiB.
            assert!(large > 64 * SMALL, "{spec} {strategy}: {large}");
            assert!(small * 8 < large, "{spec} {strategy}: {small} B retained after the drop, {large} before");
            assert!(again > 64 * SMALL, "{spec} {strategy}: {again}");
        }
    }
    eprintln!("{}", figures.join("\n"));
}
