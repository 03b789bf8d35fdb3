use std::cell::RefCell;
use std::path::Path;
use std::ptr::null_mut;

use napi::bindgen_prelude::{FromNapiValue, Unknown};
use napi::{sys, Env};
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

/// Whether the path `id` is still trusted: reads the queued change events, if any (one
/// `ioctl(FIONREAD)` says whether there are; no path walk), and re-arms the change counter's poll.
/// `>= 0`: trusted, and it stays so while the counter (`pathChangeCounter`) reads that value;
/// `-1`: something touched the path since it was last trusted; `-2` trusted, `-3` touched, and in
/// both the counter has stopped (or was never there): it must not be read again.
#[napi]
pub fn path_check(id: u32) -> i64 {
    with_watch(
        |watch| {
            let check = watch.check(id);
            match (check.trusted, check.counter) {
                (true, Some(value)) => i64::from(value),
                (false, Some(_)) => -1,
                (true, None) => -2,
                (false, None) => -3,
            }
        },
        |_| -3,
    )
}

/// A one-number view of memory the kernel writes (an io_uring completion queue's tail) that moves
/// whenever a change event may have been queued since the last `pathCheck`; `null` where io_uring
/// cannot be used (then every question is a `pathCheck`). Reading it costs no system call.
#[napi(ts_return_type = "Uint32Array | null")]
pub fn path_change_counter(env: Env) -> napi::Result<Unknown<'static>> {
    let counter = with_watch(|watch| watch.change_counter(), |_| None);
    let mut value = null_mut();
    // SAFETY: raw N-API calls on this thread's env. The buffer is *external*: it must be this very
    // memory, never a copy (a copy would never move, and every file would stay trusted), so a
    // runtime that refuses external buffers (Electron) gets `null`, not napi-rs's copying
    // fallback, and so does one that accepts them but copies all the same. The ring lives in this
    // thread's watch until the thread ends, after its isolate.
    unsafe {
        let status = match counter {
            Some(word) => {
                let mut buffer = null_mut();
                let made = sys::napi_create_external_arraybuffer(
                    env.raw(),
                    word.cast_mut().cast(),
                    size_of::<u32>(),
                    None,
                    null_mut(),
                    &mut buffer,
                );
                if made == sys::Status::napi_ok && is_this_memory(env, buffer, word.cast()) {
                    sys::napi_create_typedarray(
                        env.raw(),
                        sys::TypedarrayType::uint32_array,
                        1,
                        buffer,
                        0,
                        &mut value,
                    )
                } else {
                    sys::napi_get_null(env.raw(), &mut value)
                }
            }
            None => sys::napi_get_null(env.raw(), &mut value),
        };
        napi::check_status!(status, "pathChangeCounter")?;
        Unknown::from_napi_value(env.raw(), value)
    }
}

/// Whether `buffer`'s bytes are at `word`: a runtime that took the external memory but made its
/// own copy of it (or moved it) would hand out a word that never moves.
///
/// # Safety
/// `buffer` is an ArrayBuffer value of this thread's `env`.
unsafe fn is_this_memory(env: Env, buffer: sys::napi_value, word: *const u8) -> bool {
    let mut data = null_mut();
    let mut length = 0;
    // SAFETY: as the caller promises.
    let status =
        unsafe { sys::napi_get_arraybuffer_info(env.raw(), buffer, &mut data, &mut length) };
    status == sys::Status::napi_ok && data.cast_const().cast() == word && length == size_of::<u32>()
}

/// Trusts the path `id`: the caller has just checked it with `stat()` after `pathCheck`
/// answered that it was touched (or for a new path). Returns false for a path that can no longer be trusted.
#[napi]
pub fn trust_path(id: u32) -> bool {
    with_watch(|watch| watch.trust(id), |_| false)
}

/// Stops watching the path `id`.
#[napi]
pub fn unwatch_path(id: u32) {
    with_watch(|watch| watch.unwatch(id), |_| ())
}
