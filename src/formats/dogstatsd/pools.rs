//! Setup of the `dogstatsd` format: metric contexts with their tags joined once, and the string
//! pools events and service checks draw from.
//!
//! Everything lives in a handful of arenas ([`StrPool`]s and a few random text arenas), so setup
//! costs a few dozen allocations whatever the number of contexts or tags. Like lading's random
//! string pool, names, keys and values are slices of a random text arena taken at random offsets,
//! so setup copies text rather than drawing every character.

use crate::config::ConfRange;
use crate::error::Result;
use crate::rng::BlockRng;
use crate::setup::{self, SetupMemory, key, list_key};
use crate::text::{ALNUM_LOWER, LETTERS_LOWER, StrPool, push_random_chars};

use super::MetricType;
use super::config::Config;

/// Characters after the first of metric names, tag keys and service check names.
const IDENT_REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_.";
/// Characters of random tag values.
const TAG_VALUE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-./";
/// Characters of event titles and texts and service check messages.
const PROSE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ";
/// Random text behind event titles and texts, on top of the longest title or text.
const PROSE_ARENA: usize = 64 * 1024;
/// Random text behind names, tag keys and tag values, on top of the longest one.
const NAME_ARENA: usize = 128 * 1024;
/// Longest event text (lading: `1..1024`).
pub const MAX_EVENT_TEXT: u64 = 1_023;

/// One metric context: its name and tags are `contexts[i]`, the name being its first `name_len`
/// bytes and the rest `|#k:v,k:v` (or nothing for a context without tags).
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Length of the metric name at the start of the context text.
    pub name_len: u16,
    /// The metric type, fixed per context as in lading.
    pub ty: MetricType,
}

/// All text the generator draws from.
#[derive(Debug)]
pub struct Pools {
    /// Context texts: name followed by the joined tags.
    pub contexts: StrPool,
    /// Name length and type of each context.
    pub context_meta: Vec<Context>,
    /// Service check names.
    pub service_checks: StrPool,
    /// Short strings: hostnames, aggregation keys, source types.
    pub small: StrPool,
    /// Service check messages.
    pub messages: StrPool,
    /// `|c:` values.
    pub container_ids: StrPool,
    /// `|e:` values (may be empty: field never written).
    pub external_data: StrPool,
    /// `|card:` values (may be empty: field never written).
    pub cardinality: StrPool,
    /// Random prose; event titles and texts are slices of it.
    pub prose: String,
}

/// Random text of one charset; strings are slices of it at random offsets.
struct Arena(String);

impl Arena {
    /// An arena over `charset` that can serve slices of up to `longest` characters.
    fn new(rng: &mut BlockRng, charset: &[u8], longest: usize) -> Result<Self> {
        let len = NAME_ARENA + longest;
        let mut text = setup::try_string(len, "dogstatsd random text")?;
        push_random_chars(&mut text, rng, len, charset);
        Ok(Arena(text))
    }

    /// Appends a slice of `len` characters from a random offset.
    fn push(&self, out: &mut String, rng: &mut BlockRng, len: usize) {
        let len = len.min(self.0.len());
        let start = rng.below((self.0.len() - len + 1) as u64) as usize;
        out.push_str(self.0.get(start..start + len).unwrap_or_default());
    }

    /// Appends an identifier of `len` characters: a letter, then a slice of an identifier arena.
    fn push_ident(&self, out: &mut String, rng: &mut BlockRng, len: usize) {
        if len > 0 {
            push_random_chars(out, rng, 1, LETTERS_LOWER);
            self.push(out, rng, len - 1);
        }
    }
}

/// Mean of a range, for capacity estimates.
fn mean(r: &ConfRange) -> usize {
    usize::try_from(r.min() / 2 + r.max() / 2).unwrap_or(0)
}

/// Mean length of a user list's entries, or `fallback` when the list is empty.
fn mean_len(items: &[String], fallback: usize) -> usize {
    if items.is_empty() { fallback } else { items.iter().map(String::len).sum::<usize>() / items.len() }
}

/// A pool of `count` random strings built with `push` (lengths from `len`, which `push` keeps).
fn random_pool(
    rng: &mut BlockRng,
    count: usize,
    len: &ConfRange,
    what: &'static str,
    mut push: impl FnMut(&mut String, &mut BlockRng, usize),
) -> Result<StrPool> {
    let longest = len.max() as usize;
    let limit = count.saturating_mul(longest);
    let mut pool = StrPool::with_capacity(count.saturating_mul(mean(len) + 1), count, limit, what)?;
    for _ in 0..count {
        let n = len.sample_usize(rng);
        pool.push_with(longest, |t| push(t, rng, n))?;
    }
    Ok(pool)
}

/// Bytes of a pool of `count` strings of at most `longest` bytes.
fn pool_bytes(count: u64, longest: u64) -> u64 {
    setup::mul(count, longest) + setup::array_of::<u32>(count)
}

/// Bytes of a pool holding `items`.
fn list_bytes(items: &[String]) -> u64 {
    items.iter().map(|s| s.len() as u64).sum::<u64>() + setup::array_of::<u32>(items.len() as u64)
}

/// The longest strings setup builds for a validated config.
#[derive(Debug, Clone, Copy)]
struct Longest {
    /// One tag, `key:value`.
    tag: usize,
    /// A context: its name and joined tags.
    context: usize,
}

impl Longest {
    fn of(c: &Config) -> Self {
        let longest = |items: &[String]| items.iter().map(String::len).max().unwrap_or(0);
        let name = if c.metric_names.is_empty() { c.name_length.max() as usize } else { longest(&c.metric_names) };
        // A tag's total length is drawn from `tag_length` (at least 3); a key or value from a
        // list replaces its random part, and a random value then fills up to that total.
        let total = (c.tag_length.max() as usize).max(3);
        let key = if c.tag_names.is_empty() { total - 2 } else { longest(&c.tag_names) };
        let value = if c.tag_values.is_empty() { total.saturating_sub(2).max(1) } else { longest(&c.tag_values) };
        // Both random: the drawn total, exactly.
        let tag = if c.tag_names.is_empty() && c.tag_values.is_empty() { total } else { key + 1 + value };
        let tags = c.tags_per_msg.max() as usize;
        // `|#` before the first tag, `,` before the others.
        let context = name + tags * (tag + 1) + usize::from(tags > 0);
        Longest { tag, context }
    }
}

/// Adds to `m` an upper bound on what [`Pools::build`] allocates for a validated `c`, by part.
///
/// # Errors
/// [`crate::Error::Config`] when the contexts or tags could outgrow one `u32`-addressed arena.
pub fn estimate(c: &Config, m: &mut SetupMemory) -> Result<()> {
    let at_most = Longest::of(c);
    let contexts = c.contexts.max();
    let tags = setup::mul(contexts, c.tags_per_msg.max());
    let arena_longest = c.name_length.max().max(c.tag_length.max());
    let tag_keys = || {
        let mut k = vec![key("dogstatsd.tags_per_msg", c.tags_per_msg), key("dogstatsd.tag_length", c.tag_length)];
        if !c.tag_names.is_empty() {
            k.push(list_key("dogstatsd.tag_names", &c.tag_names));
        }
        if !c.tag_values.is_empty() {
            k.push(list_key("dogstatsd.tag_values", &c.tag_values));
        }
        k
    };
    m.add_arena(
        "metric contexts",
        pool_bytes(contexts, at_most.context as u64) + setup::array_of::<Context>(contexts),
        || {
            let mut k = vec![key("dogstatsd.contexts", c.contexts)];
            k.push(if c.metric_names.is_empty() {
                key("dogstatsd.name_length", c.name_length)
            } else {
                list_key("dogstatsd.metric_names", &c.metric_names)
            });
            if c.tags_per_msg.max() > 0 {
                k.extend(tag_keys());
            }
            k
        },
    )?;
    // The tag pool's offsets grow by doubling past their first guess: at most twice the tags.
    m.add_arena("tags", setup::mul(tags, at_most.tag as u64) + setup::array_of::<u32>(tags.saturating_mul(2)), || {
        let mut k = vec![key("dogstatsd.contexts", c.contexts)];
        k.extend(tag_keys());
        k
    })?;
    m.add(
        "random text",
        2 * (NAME_ARENA as u64 + arena_longest) + PROSE_ARENA as u64 + c.name_length.max().max(MAX_EVENT_TEXT),
        || vec![key("dogstatsd.name_length", c.name_length), key("dogstatsd.tag_length", c.tag_length)],
    );
    m.add("service check names", pool_bytes(c.service_check_names.max(), c.name_length.max()), || {
        vec![key("dogstatsd.service_check_names", c.service_check_names), key("dogstatsd.name_length", c.name_length)]
    });
    // Short strings (hostnames, keys, sources, default container ids) and service check messages.
    m.add("small strings", 2 * pool_bytes(1_023, 8) + pool_bytes(127, 1_024), Vec::new);
    for (field, items) in [
        ("dogstatsd.metric_names", &c.metric_names),
        ("dogstatsd.tag_names", &c.tag_names),
        ("dogstatsd.tag_values", &c.tag_values),
        ("dogstatsd.container_ids", &c.container_ids),
        ("dogstatsd.external_data", &c.external_data),
        ("dogstatsd.cardinality", &c.cardinality),
    ] {
        if !items.is_empty() {
            m.add("user lists", list_bytes(items), || vec![list_key(field, items)]);
        }
    }
    Ok(())
}

/// A uniformly weighted index from cumulative weights (`cum` ends with the total, which is > 0).
#[inline]
pub fn pick_weighted(rng: &mut BlockRng, cum: &[u32]) -> usize {
    let total = cum.last().copied().unwrap_or(0);
    let r = rng.below(u64::from(total)) as u32;
    cum.iter().position(|&c| r < c).unwrap_or(0)
}

/// Cumulative sums of weights.
pub fn cumulative<const N: usize>(weights: [u8; N]) -> [u32; N] {
    let mut acc = 0u32;
    weights.map(|w| {
        acc += u32::from(w);
        acc
    })
}

impl Pools {
    /// Builds every pool for a validated `c` from the setup RNG, within what [`estimate`] says.
    ///
    /// # Errors
    /// [`crate::Error::Allocation`] when the system refuses the memory.
    pub fn build(c: &Config, rng: &mut BlockRng) -> Result<Self> {
        let longest = c.name_length.max().max(c.tag_length.max()) as usize;
        let idents = Arena::new(rng, IDENT_REST, longest)?;
        let (contexts, context_meta) = build_contexts(c, rng, &idents)?;
        let service_count = c.service_check_names.sample_usize(rng);
        let service_checks =
            random_pool(rng, service_count, &c.name_length, "dogstatsd service check names", |t, r, n| {
                idents.push_ident(t, r, n);
            })?;
        drop(idents);
        // lading: 16..1024 short strings of 1..=8 characters, and 4..128 messages of 1..=1024.
        let small_count = rng.inclusive(16, 1_023) as usize;
        let small =
            random_pool(rng, small_count, &ConfRange::inclusive(1, 8), "dogstatsd short strings", |t, r, n| {
                push_random_chars(t, r, n, ALNUM_LOWER);
            })?;
        let message_count = rng.inclusive(4, 127) as usize;
        let messages =
            random_pool(rng, message_count, &ConfRange::inclusive(1, 1_024), "dogstatsd messages", |t, r, n| {
                push_random_chars(t, r, n, PROSE);
            })?;
        let container_ids = if c.container_ids.is_empty() {
            small.clone()
        } else {
            StrPool::from_strs(&c.container_ids, "dogstatsd.container_ids")?
        };
        let prose_len = PROSE_ARENA + c.name_length.max().max(MAX_EVENT_TEXT) as usize;
        let mut prose = setup::try_string(prose_len, "dogstatsd random text")?;
        push_random_chars(&mut prose, rng, prose_len, PROSE);
        Ok(Pools {
            contexts,
            context_meta,
            service_checks,
            small,
            messages,
            container_ids,
            external_data: StrPool::from_strs(&c.external_data, "dogstatsd.external_data")?,
            cardinality: StrPool::from_strs(&c.cardinality, "dogstatsd.cardinality")?,
            prose,
        })
    }
}

/// Builds the contexts: each is a metric name and a tagset joined once into `|#k:v,…`.
///
/// Tags follow lading's `unique_tag_ratio`: a context's first tag ever is new, and every later
/// tag is new with that probability and otherwise a copy of a tag made before. A tag is
/// `key:value` with a total length drawn from `tag_length`, or built from `tag_names` and
/// `tag_values` when those are given.
fn build_contexts(c: &Config, rng: &mut BlockRng, idents: &Arena) -> Result<(StrPool, Vec<Context>)> {
    let count = c.contexts.sample_usize(rng);
    let at_most = Longest::of(c);
    let tag_values = Arena::new(rng, TAG_VALUE, c.tag_length.max() as usize)?;
    let type_cum = cumulative(c.metric_weights.as_array());
    let name_lists = StrPool::from_strs(&c.metric_names, "dogstatsd.metric_names")?;
    let keys = StrPool::from_strs(&c.tag_names, "dogstatsd.tag_names")?;
    let values = StrPool::from_strs(&c.tag_values, "dogstatsd.tag_values")?;

    let tags_mean = mean(&c.tags_per_msg);
    let tag_mean = if keys.is_empty() && values.is_empty() {
        mean(&c.tag_length)
    } else {
        mean_len(&c.tag_names, mean(&c.tag_length) / 2) + 1 + mean_len(&c.tag_values, mean(&c.tag_length) / 2)
    };
    let name_mean = mean_len(&c.metric_names, mean(&c.name_length));
    let new_tags = 1 + (c.unique_tag_ratio * (count.saturating_mul(tags_mean)) as f64) as usize;
    // About 5% over the mean, so that the arenas rarely grow (a growth copies the whole arena).
    let slack = |n: usize| n.saturating_add(n / 20);
    let tag_limit = count.saturating_mul(c.tags_per_msg.max() as usize).saturating_mul(at_most.tag);
    let mut tags =
        StrPool::with_capacity(slack(new_tags.saturating_mul(tag_mean)), slack(new_tags), tag_limit, "dogstatsd tags")?;
    let per_context = name_mean + 2 + tags_mean * (tag_mean + 1);
    let context_limit = count.saturating_mul(at_most.context);
    let mut contexts = StrPool::with_capacity(
        slack(count.saturating_mul(per_context)),
        count,
        context_limit,
        "dogstatsd metric contexts",
    )?;
    let mut meta = setup::try_vec(count, "dogstatsd metric contexts")?;

    for _ in 0..count {
        let ty = MetricType::ALL.get(pick_weighted(rng, &type_cum)).copied().unwrap_or(MetricType::Count);
        let tag_count = c.tags_per_msg.sample_usize(rng);
        let mut name_len = 0;
        let mut pushed = Ok(());
        contexts.push_with(at_most.context, |text| {
            let start = text.len();
            if name_lists.is_empty() {
                let len = c.name_length.sample_usize(rng);
                idents.push_ident(text, rng, len);
            } else {
                text.push_str(name_lists.get(name_lists.pick(rng)));
            }
            name_len = text.len() - start;
            for i in 0..tag_count {
                text.push_str(if i == 0 { "|#" } else { "," });
                let tag = if tags.is_empty() || rng.chance(c.unique_tag_ratio) {
                    let sources = TagSources { keys: &keys, values: &values, idents, tag_values: &tag_values };
                    if let Err(e) = tags.push_with(at_most.tag, |t| push_tag(t, rng, c, &sources)) {
                        pushed = Err(e);
                        break;
                    }
                    tags.len() - 1
                } else {
                    tags.pick(rng) as usize
                };
                text.push_str(tags.get(tag as u32));
            }
        })?;
        pushed?;
        meta.push(Context { name_len: u16::try_from(name_len).unwrap_or(u16::MAX), ty });
    }
    Ok((contexts, meta))
}

/// Where new tags come from: the user's lists when given, else the random arenas.
struct TagSources<'a> {
    keys: &'a StrPool,
    values: &'a StrPool,
    idents: &'a Arena,
    tag_values: &'a Arena,
}

/// Appends one new tag `key:value`.
fn push_tag(out: &mut String, rng: &mut BlockRng, c: &Config, from: &TagSources<'_>) {
    // Total length with the colon; key and value get at least one character each.
    let total = c.tag_length.sample_usize(rng).max(3);
    let start = out.len();
    if from.keys.is_empty() {
        let key_len = rng.inclusive(1, (total - 2) as u64) as usize;
        from.idents.push_ident(out, rng, key_len);
    } else {
        out.push_str(from.keys.get(from.keys.pick(rng)));
    }
    out.push(':');
    if from.values.is_empty() {
        let value_len = total.saturating_sub(out.len() - start).max(1);
        from.tag_values.push(out, rng, value_len);
    } else {
        out.push_str(from.values.get(from.values.pick(rng)));
    }
}
