//! The transfer methods, as users name them. At the bottom of the crate: the engines, the error
//! type, the limits and the driver all name a method, and none of them is needed to do so.

use std::fmt;
use std::str::FromStr;

/// A transfer method, as users name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `sendfile(2)`: page cache → socket, no copy through user space.
    Sendfile,
    /// `splice(2)`: file → pipe → socket, page references instead of copies.
    Splice,
    /// `mmap(2)` the file, `write(2)` from the mapping: one copy, done by the kernel.
    Mmap,
    /// `pread(2)` into a buffer, `write(2)` out of it: two copies, works everywhere.
    Copy,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Sendfile, Method::Splice, Method::Mmap, Method::Copy];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sendfile => "sendfile",
            Method::Splice => "splice",
            Method::Mmap => "mmap",
            Method::Copy => "copy",
        }
    }

    /// Whether this build can run the method at all (splice exists only on Linux).
    pub fn is_available(self) -> bool {
        match self {
            Method::Splice => cfg!(any(target_os = "linux", target_os = "android")),
            Method::Sendfile => cfg!(any(
                target_os = "linux",
                target_os = "android",
                target_os = "macos",
                target_os = "freebsd"
            )),
            Method::Mmap | Method::Copy => true,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Method::ALL.into_iter().find(|m| m.as_str() == s).ok_or(())
    }
}
