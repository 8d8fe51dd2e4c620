//! The process-wide counter a binary installs to run `cli::run`: found at once, and paused until
//! a tool that counts switches it on, so an embedder that installs it pays nothing while sending.

use payforge::measure::{GlobalCounter, installed};

#[global_allocator]
static ALLOC: GlobalCounter = GlobalCounter;

#[test]
fn found_and_paused_until_switched_on() {
    let alloc = installed().expect("GlobalCounter is this binary's allocator");
    let start = alloc.begin();
    let v: Vec<u64> = std::hint::black_box((0..1000).collect());
    drop(v);
    assert_eq!(alloc.end(&start).allocations, 0, "counted while paused");
    assert!(!alloc.set_counting(true), "the counter started switched on");
    let start = alloc.begin();
    let v: Vec<u64> = std::hint::black_box((0..1000).collect());
    drop(v);
    let stats = alloc.end(&start);
    alloc.set_counting(false);
    assert!(stats.allocations >= 1 && stats.bytes_allocated >= 8000, "{stats:?}");
}
