use std::cell::RefCell;
use std::path::Path;

use napi_derive::napi;
use zerosend_core::PathWatch;

thread_local! {
    /// One inotify instance per JavaScript thread (they are few: `fs.inotify.max_user_instances`
    /// is 128 by default), made on first use; `Err` holds why it could not be.
    static WATCH: RefCell<Option<Result<PathWatch, i32>>> = const { RefCell::new(None) };
}

fn with_watch<T>(f: impl FnOnce(&mut PathWatch) -> T, unavailable: impl FnOnce(i32) -> T) -> T {
    WATCH.with_borrow_mut(|slot| {
        match slot.get_or_insert_with(|| PathWatch::new().map_err(|errno| errno as i32)) {
            Ok(watch) => f(watch),
            Err(errno) => unavailable(*errno),
        }
    })
}

/// Watches `path` (absolute and normalized; symlinks on the way are followed and watched) so that
/// the HTTP open-file cache can skip its `stat()` while nothing on the way to the file changes.
/// Returns the path's id (≥ 0), or a negative errno: no inotify here (`ENOSYS`), the watch limit
/// reached (`ENOSPC`), a symlink loop (`ELOOP`), the path gone. The path starts untrusted: check
/// it, then `trustPath`.
#[napi]
pub fn watch_path(path: String) -> i32 {
    with_watch(
        |watch| match watch.watch(Path::new(&path)) {
            Ok(id) => id as i32,
            Err(errno) => -(errno as i32),
        },
        |errno| -errno,
    )
}

/// Whether the path `id` is still trusted: looks for queued change events (one `ioctl(FIONREAD)`,
/// no path walk; they are read only when there are some) and answers false if one touched the
/// path since it was last trusted.
#[napi]
pub fn path_unchanged(id: u32) -> bool {
    with_watch(|watch| watch.unchanged(id), |_| false)
}

/// Trusts the path `id`: the caller has just checked it with `stat()` after `pathUnchanged`
/// answered false. Returns false for a path that can no longer be trusted.
#[napi]
pub fn trust_path(id: u32) -> bool {
    with_watch(|watch| watch.trust(id), |_| false)
}

/// Stops watching the path `id`.
#[napi]
pub fn unwatch_path(id: u32) {
    with_watch(|watch| watch.unwatch(id), |_| ())
}
