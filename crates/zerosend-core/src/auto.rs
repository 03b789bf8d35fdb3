//! `method: 'auto'`: which engine to use for a destination and a length.
//!
//! The rule comes from `bench/transfer.mjs` (see README.md, "Choosing a method").

use crate::dest::{Dest, DestKind};
use crate::engine::Method;

pub fn choose(dest: &Dest, _length: u64) -> Method {
    // XNU's sendfile can park the calling thread waiting for mbufs even on a non-blocking socket
    // (Bun turned it off on macOS for that), and our first step runs on Node's JS thread. Until
    // it is measured on macOS, `auto` copies there; `method: 'sendfile'` still asks for it.
    if cfg!(target_vendor = "apple") {
        return Method::Copy;
    }
    match dest.kind() {
        DestKind::Socket | DestKind::Stream | DestKind::File => Method::Sendfile,
    }
}
