//! A framing brought by a format from outside payforge ([`Framing::Custom`]) is filled exactly by
//! the one sizing loop, on every strategy: blocks equal a reference built from the framing's
//! writers alone (never from its length functions), and a framing whose lengths disagree with its
//! writers is caught by that comparison.

use payforge::{BlockRng, BlockSource, CustomFraming, Format, Framing, Generator, Strategy};
use proptest::prelude::*;

/// RFC 6587 octet counting: `LEN SP MSG`, a prefix whose length depends on the member's.
#[derive(Debug)]
struct OctetCounted;

impl CustomFraming for OctetCounted {
    fn name(&self) -> &'static str {
        "octet-counted"
    }
    fn prefix_len(&self, _index: usize, member_len: usize) -> usize {
        decimal_len(member_len) + 1
    }
    fn write_prefix(&self, _index: usize, member_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(member_len.to_string().as_bytes());
        out.push(b' ');
    }
}

/// A header whose length grows with the member count (`COUNT:BODYLEN;`), a suffix after every
/// member, a separator before all but the first, and a trailer.
#[derive(Debug)]
struct Counted {
    /// Makes `header_len` one byte short: a framing bug the reference comparison must catch.
    wrong_header_len: bool,
}

impl CustomFraming for Counted {
    fn name(&self) -> &'static str {
        if self.wrong_header_len { "counted-wrong" } else { "counted" }
    }
    fn header_len(&self, k: usize) -> usize {
        // The body length is written in a fixed 10 digits, so the header's length depends on k only.
        decimal_len(k) + 12 - usize::from(self.wrong_header_len)
    }
    fn write_header(&self, k: usize, body: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{k}:{body:010};").as_bytes());
    }
    fn prefix_len(&self, index: usize, _member_len: usize) -> usize {
        usize::from(index > 0)
    }
    fn write_prefix(&self, index: usize, _member_len: usize, out: &mut Vec<u8>) {
        if index > 0 {
            out.push(b'|');
        }
    }
    fn suffix_len(&self, _index: usize, _member_len: usize) -> usize {
        2
    }
    fn write_suffix(&self, _index: usize, _member_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
    }
    fn trailer_len(&self) -> usize {
        3
    }
    fn write_trailer(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"END");
    }
}

fn decimal_len(n: usize) -> usize {
    n.to_string().len()
}

static OCTET_COUNTED: OctetCounted = OctetCounted;
static COUNTED: Counted = Counted { wrong_header_len: false };
static COUNTED_WRONG: Counted = Counted { wrong_header_len: true };

/// Members are lowercase words of 1 to 300 bytes, so octet-counting prefixes take 2 to 4 bytes.
#[derive(Debug)]
struct Words(Framing);

impl Format for Words {
    type Member = (u64, usize);
    fn name(&self) -> &'static str {
        "words"
    }
    fn framing(&self) -> Framing {
        self.0
    }
    fn min_member_len(&self) -> usize {
        1
    }
    fn generate(&self, rng: &mut BlockRng) -> Self::Member {
        let seed = rng.next_u64();
        (seed, 1 + (seed % 300) as usize)
    }
    fn encode(&self, &(seed, len): &Self::Member, out: &mut Vec<u8>) {
        out.extend((0..len).map(|i| b'a' + ((seed >> (i % 60)) as u8 % 26)));
    }
}

/// The block, built from the framing's writers only: members are added while the written block
/// stays within the budget. `None` when not even one member fits.
fn reference(framing: Framing, seed: u64, budget: usize) -> Option<(usize, Vec<u8>)> {
    let format = Words(framing);
    let mut rng = BlockRng::for_block(seed, 0);
    let mut encoded: Vec<Vec<u8>> = Vec::new();
    let mut best = None;
    loop {
        let mut member = Vec::new();
        format.encode(&format.generate(&mut rng), &mut member);
        encoded.push(member);
        let block = write_block(framing, &encoded);
        if block.len() > budget {
            return best;
        }
        best = Some((encoded.len(), block));
    }
}

fn write_block(framing: Framing, members: &[Vec<u8>]) -> Vec<u8> {
    let Framing::Custom(custom) = framing else { unreachable!("custom framings only") };
    let mut body = Vec::new();
    for (i, m) in members.iter().enumerate() {
        custom.write_prefix(i, m.len(), &mut body);
        body.extend_from_slice(m);
        custom.write_suffix(i, m.len(), &mut body);
    }
    let mut block = Vec::new();
    custom.write_header(members.len(), body.len(), &mut block);
    block.extend_from_slice(&body);
    custom.write_trailer(&mut block);
    block
}

fn fill(framing: Framing, strategy: Strategy, seed: u64, budget: usize) -> payforge::Result<(usize, Vec<u8>)> {
    let mut source = Generator::new(Words(framing), strategy);
    let mut out = b"kept".to_vec();
    let filled = source.fill(&mut BlockRng::for_block(seed, 0), budget, &mut out)?;
    assert_eq!(out.drain(..4).as_slice(), b"kept");
    assert_eq!(filled.bytes, out.len());
    Ok((filled.members, out))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn custom_framings_fill_exactly_on_every_strategy(seed in any::<u64>(), budget in 1usize..6000) {
        for framing in [Framing::Custom(&OCTET_COUNTED), Framing::Custom(&COUNTED)] {
            let want = reference(framing, seed, budget);
            for strategy in Strategy::ALL {
                match fill(framing, strategy, seed, budget) {
                    Ok(got) => prop_assert_eq!(Some(got), want.clone(), "{:?} {}", framing, strategy),
                    Err(e) => {
                        prop_assert!(want.is_none(), "{:?} {}: {}", framing, strategy, e);
                        prop_assert_eq!(e.kind(), payforge::ErrorKind::Budget);
                    }
                }
            }
        }
    }
}

#[test]
fn a_header_length_that_disagrees_with_its_writer_is_an_error() {
    let framing = Framing::Custom(&COUNTED_WRONG);
    for strategy in Strategy::ALL {
        // Every block misplans by a byte: the sizing loop refuses it instead of returning a block
        // whose length is not what it says or that passes the budget.
        let err = fill(framing, strategy, 7, 2000).unwrap_err();
        assert_eq!(err.kind(), payforge::ErrorKind::Internal, "{strategy}: {err}");
        assert!(err.to_string().contains("counted-wrong"), "{strategy}: {err}");
    }
}

#[test]
fn smallest_block_counts_the_custom_prefix() {
    let source = Generator::new(Words(Framing::Custom(&OCTET_COUNTED)), Strategy::REUSE_ENCODE_ONCE);
    // One byte of member, "1 " in front of it.
    assert_eq!(source.min_block_len(), 3);
    let counted = Generator::new(Words(Framing::Custom(&COUNTED)), Strategy::REUSE_ENCODE_ONCE);
    // "1:0000000003;" + "x" + "\r\n" + "END"
    assert_eq!(counted.min_block_len(), 13 + 1 + 2 + 3);
}
