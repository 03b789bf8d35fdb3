//! `method: 'auto'`: which engine to use for a destination and a length.
//!
//! The rule comes from `bench/transfer.mjs` (see README.md, "Choosing a method").

use crate::dest::{Dest, DestKind};
use crate::engine::Method;

pub fn choose(dest: &Dest, _length: u64) -> Method {
    match dest.kind() {
        DestKind::Socket | DestKind::Stream | DestKind::File => Method::Sendfile,
    }
}
