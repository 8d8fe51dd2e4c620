//! Building blocks for authors of formats, exported on purpose.
//!
//! The built-in formats are written with these, and a format from another crate (see
//! `examples/custom-format/`) needs nothing else from payforge's insides. They are what makes a
//! format fast and allocation-free per block, and its config errors and setup memory honest:
//!
//! * **Pools and arenas** ([`StrPool`], [`Arena`]): every string a format emits is made at setup
//!   and stored back to back, so a member is a few handles and encoding copies slices. Both grow
//!   only within the bound they were made with, and every allocation is fallible.
//! * **Text writers** ([`push_u64`], [`push_f64`], [`push_rfc3339_millis`], [`Rfc3339Days`],
//!   [`push_json_str`], ...): numbers, timestamps and JSON strings appended to a `Vec<u8>`
//!   without `format!`.
//! * **Member writers** ([`write_member`], [`SlackWriter`]): a member written into a window of
//!   its buffer with one bounds check per piece.
//! * **Config ranges and validators** ([`ConfRange`], [`validate_count`], ...): lading's
//!   `constant` / `inclusive` ranges, and errors that name the field and the bad value.
//! * **Setup memory** ([`SetupMemory`], [`key`], [`try_vec`], [`try_string`], ...): the estimate a
//!   format gives before it allocates ([`crate::Configured::estimate_setup`]), and fallible
//!   allocation for its setup.
//! * **msgpack headers** ([`msgpack_array_header_len`], [`write_msgpack_array_header`]) and the
//!   string table of dictionary framings ([`crate::StringTable`], at the root).
//!
//! These follow the crate's versioning: a breaking change to one of them is a breaking change to
//! payforge, listed in the CHANGELOG.

pub use crate::config::{
    ConfRange, MinMax, RawRange, validate_count, validate_non_empty, validate_probability, validate_weights,
};
pub use crate::formats::trace_v04::pool::{Arena, Piece};
pub use crate::framing::{msgpack_array_header_len, write_msgpack_array_header};
pub use crate::setup::{
    MAX_ARENA_BYTES, Part, SetupMemory, array_of, grow_within, human, key, list_key, mul, refused, try_string, try_vec,
};
pub use crate::slack::{SlackWriter, write_member};
pub use crate::text::{
    ALNUM_LOWER, LETTERS_LOWER, Rfc3339Days, StrPool, civil_from_days, json_safe, push_f64, push_i64,
    push_json_escaped, push_json_str, push_random_chars, push_rfc3339_millis, push_u64,
};

#[cfg(feature = "config-files")]
pub use crate::config::from_yaml;
