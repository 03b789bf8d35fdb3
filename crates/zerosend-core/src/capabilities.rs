//! What this build can do, for `capabilities()`.

use crate::method::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub sendfile: bool,
    pub splice: bool,
    pub mmap: bool,
}

pub fn capabilities() -> Capabilities {
    Capabilities {
        sendfile: Method::Sendfile.is_available(),
        splice: Method::Splice.is_available(),
        mmap: Method::Mmap.is_available(),
    }
}
