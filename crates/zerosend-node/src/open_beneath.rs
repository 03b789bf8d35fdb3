use std::os::fd::IntoRawFd;
use std::path::Path;

use napi_derive::napi;

/// Opens `relative` (no leading `/`) beneath the folder `root` leads to now, so that no `..` or
/// symlink can take it out (`openat2` with `RESOLVE_BENEATH`; the root itself is followed once,
/// first): read-only, non-blocking, close-on-exec. Returns the descriptor, which the caller owns
/// and closes, or a negative errno: `-EXDEV` for a way out of the root and for every absolute
/// symlink, `-ENOSYS` where the call does not exist (or is filtered: `-EPERM` may mean that too).
#[napi]
pub fn open_beneath(root: String, relative: String) -> i32 {
    match zerosend_core::open_beneath(Path::new(&root), Path::new(&relative)) {
        Ok(fd) => fd.into_raw_fd(),
        Err(errno) => -(errno as i32),
    }
}
