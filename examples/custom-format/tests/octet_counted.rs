//! A framing defined outside payforge: RFC 6587 octet counting (`LEN SP MSG`, no delimiter), the
//! way syslog travels over TCP when messages may hold newlines. The apache lines are framed with
//! it through `Framing::Custom`, and payforge's one sizing loop fills those blocks exactly on
//! every strategy: each block equals one built from the framing's writers alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use payforge::{BlockRng, BlockSource, Configured, CustomFraming, Format, Framing, Generator, Strategy};
use payforge_apache::{ApacheCombined, Config};
use proptest::prelude::*;

/// RFC 6587 §3.4.1: each message is preceded by its length in decimal and a space.
#[derive(Debug)]
struct OctetCounted;

impl CustomFraming for OctetCounted {
    fn name(&self) -> &'static str {
        "rfc6587-octet-counting"
    }
    fn prefix_len(&self, _index: usize, member_len: usize) -> usize {
        member_len.checked_ilog10().map_or(1, |d| d as usize + 1) + 1
    }
    fn write_prefix(&self, _index: usize, member_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(member_len.to_string().as_bytes());
        out.push(b' ');
    }
}

static OCTET_COUNTED: OctetCounted = OctetCounted;

/// The apache format, framed with octet counting instead of LF lines.
struct Framed(ApacheCombined);

impl Format for Framed {
    type Member = <ApacheCombined as Format>::Member;
    fn name(&self) -> &'static str {
        "apache-combined-octet-counted"
    }
    fn framing(&self) -> Framing {
        Framing::Custom(&OCTET_COUNTED)
    }
    fn min_member_len(&self) -> usize {
        self.0.min_member_len()
    }
    fn generate(&self, rng: &mut BlockRng) -> Self::Member {
        self.0.generate(rng)
    }
    fn encode(&self, member: &Self::Member, out: &mut Vec<u8>) {
        self.0.encode(member, out);
    }
}

fn framed(seed: u64) -> Framed {
    Framed(ApacheCombined::from_config(&Config::default(), seed).unwrap())
}

/// The block built from the writers alone: members are added while the written block fits.
fn reference(format: &Framed, seed: u64, index: u64, budget: usize) -> Option<(usize, Vec<u8>)> {
    let mut rng = BlockRng::for_block(seed, index);
    let mut block = Vec::new();
    let mut members = 0;
    loop {
        let mut line = Vec::new();
        format.encode(&format.generate(&mut rng), &mut line);
        let mut next = block.clone();
        OCTET_COUNTED.write_prefix(members, line.len(), &mut next);
        next.extend_from_slice(&line);
        if next.len() > budget {
            return (members > 0).then_some((members, block));
        }
        block = next;
        members += 1;
    }
}

/// Reads an octet-counted stream back into its messages, as a receiver would.
fn messages(mut block: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !block.is_empty() {
        let space = block.iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&block[..space]).unwrap().parse().unwrap();
        out.push(&block[space + 1..space + 1 + len]);
        block = &block[space + 1 + len..];
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn octet_counted_blocks_are_exact_on_every_strategy(
        seed in 0u64..1000,
        index in 0u64..1000,
        budget in 200usize..40_000,
    ) {
        let want = reference(&framed(seed), seed, index, budget);
        for strategy in Strategy::ALL {
            let mut source = Generator::new(framed(seed), strategy);
            let mut out = Vec::new();
            match source.fill(&mut BlockRng::for_block(seed, index), budget, &mut out) {
                Ok(filled) => {
                    let (members, block) = want.clone().unwrap();
                    prop_assert_eq!((filled.members, filled.bytes), (members, block.len()), "{}", strategy);
                    prop_assert!(out == block, "{}: bytes differ", strategy);
                    let lines = messages(&out);
                    prop_assert_eq!(lines.len(), members);
                    prop_assert!(lines.iter().all(|l| l.ends_with(b"\"") && !l.contains(&b'\n')));
                }
                Err(e) => prop_assert!(want.is_none(), "{}: {}", strategy, e),
            }
        }
    }
}

#[test]
fn smallest_block_counts_the_length_prefix() {
    let format = framed(1);
    let min = format.min_member_len();
    let source = Generator::new(format, Strategy::REUSE_ENCODE_ONCE);
    assert_eq!(source.min_block_len(), min + min.to_string().len() + 1);
}
