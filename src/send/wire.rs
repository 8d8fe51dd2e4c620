//! The units `send` replays: a [`BlockCache`]'s blocks as they go on the wire, prepared once
//! before sending starts, so a sender only ever clones a reference-counted [`Bytes`].
//!
//! Most runs send the blocks themselves (no copy). syslog over datagrams sends each line as its
//! own datagram (zero-copy slices of the block), and syslog with octet-counting framing is
//! re-encoded once, here.

use bytes::Bytes;

use super::profile::Wire;
use crate::cache::BlockCache;
use crate::error::{Error, Result};

/// One write, datagram or request.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The bytes, never empty.
    pub bytes: Bytes,
    /// Members it carries (lines, traces, records).
    pub members: u64,
}

/// The units of one run, replayed in a cycle.
#[derive(Debug, Clone)]
pub struct WireCache {
    units: Vec<Unit>,
    largest: usize,
    total_bytes: u64,
}

impl WireCache {
    /// Turns the cache's blocks into units for `wire`.
    ///
    /// # Errors
    /// [`Error::Argument`] when a block holds no line to send (cannot happen with the built-in
    /// formats: blocks are never empty and lines end with LF).
    pub fn new(cache: &BlockCache, wire: Wire) -> Result<Self> {
        let mut units = Vec::new();
        for block in cache.blocks() {
            let bytes = block.bytes();
            match wire {
                Wire::Blocks => units.push(Unit { bytes: bytes.clone(), members: block.members() as u64 }),
                Wire::Lines => {
                    for (start, end) in lines(bytes) {
                        units.push(Unit { bytes: bytes.slice(start..end), members: 1 });
                    }
                }
                Wire::OctetCounted => {
                    let mut out = Vec::with_capacity(bytes.len() + 8 * block.members());
                    let mut members = 0;
                    for (start, end) in lines(bytes) {
                        let mut len = itoa::Buffer::new();
                        out.extend_from_slice(len.format(end - start).as_bytes());
                        out.push(b' ');
                        out.extend_from_slice(&bytes[start..end]);
                        members += 1;
                    }
                    if !out.is_empty() {
                        units.push(Unit { bytes: Bytes::from(out), members });
                    }
                }
            }
        }
        if units.is_empty() {
            return Err(Error::argument("cache", cache.format_name(), "holds nothing to send"));
        }
        let largest = units.iter().map(|u| u.bytes.len()).max().unwrap_or(0);
        let total_bytes = units.iter().map(|u| u.bytes.len() as u64).sum();
        Ok(Self { units, largest, total_bytes })
    }

    /// The units, in order.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Number of units (at least 1).
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The largest unit's length: the token bucket's burst.
    pub fn largest(&self) -> usize {
        self.largest
    }

    /// Sum of the units' lengths.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// The unit at `position` modulo the length.
    pub fn get(&self, position: usize) -> &Unit {
        &self.units[position % self.units.len()]
    }
}

/// The non-empty lines of `bytes`, as `(start, end)` without their LF.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            let end = bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| start + i);
            let line = (start, end);
            start = end + 1;
            if line.1 > line.0 {
                return Some(line);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Amount, BlockPlan, BlockSize};
    use crate::{Registry, StrategyChoice};

    fn syslog_cache() -> BlockCache {
        let plan = BlockPlan::new(3, BlockSize::Fixed(2048), Amount::Blocks(4)).unwrap();
        let config = Registry::builtin().default_config("syslog5424").unwrap();
        BlockCache::build(&config, StrategyChoice::Auto, &plan, 1).unwrap()
    }

    #[test]
    fn lines_and_octet_counting_carry_every_line() {
        let cache = syslog_cache();
        let members: u64 = cache.blocks().iter().map(|b| b.members() as u64).sum();
        let blocks = WireCache::new(&cache, Wire::Blocks).unwrap();
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks.total_bytes(), cache.total_bytes());
        let lines = WireCache::new(&cache, Wire::Lines).unwrap();
        assert_eq!(lines.len() as u64, members);
        assert!(lines.units().iter().all(|u| !u.bytes.contains(&b'\n') && u.bytes.starts_with(b"<")));
        assert_eq!(lines.total_bytes() + members, cache.total_bytes());
        let counted = WireCache::new(&cache, Wire::OctetCounted).unwrap();
        assert_eq!(counted.units().iter().map(|u| u.members).sum::<u64>(), members);
        // Parse the octet-counted stream back into the same lines.
        let mut parsed = Vec::new();
        for unit in counted.units() {
            let mut rest: &[u8] = &unit.bytes;
            while !rest.is_empty() {
                let sp = rest.iter().position(|&b| b == b' ').unwrap();
                let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
                parsed.push(rest[sp + 1..sp + 1 + len].to_vec());
                rest = &rest[sp + 1 + len..];
            }
        }
        let expected: Vec<Vec<u8>> = lines.units().iter().map(|u| u.bytes.to_vec()).collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn line_splitting() {
        let v: Vec<_> = lines(b"ab\n\ncd\ne").collect();
        assert_eq!(v, vec![(0, 2), (4, 6), (7, 8)]);
    }
}
