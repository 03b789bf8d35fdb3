use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use napi::bindgen_prelude::Float64ArraySlice;
use napi::{sys, Error, JsString, JsValue, Result, Status};
use napi_derive::napi;
use zerosend_core::{file_version, FileVersion};

/// How many numbers `statVersion` writes.
const FIELDS: usize = 8;
/// Paths up to this many bytes are read onto the stack (PATH_MAX is 4096 with its NUL on Linux).
const PATH_BYTES: usize = 4096;

/// `stat(2)` of `path` (symlinks followed) for the HTTP open-file cache, which checks every path
/// it serves on every request. Writes `[kind, dev, ino, size, mtimeSec, mtimeNsec, ctimeSec,
/// ctimeNsec]` into `out` (kind: 1 file, 2 directory, 3 anything else) and returns 0, or returns
/// the errno and leaves `out` alone. Numbers, not a `fs.Stats`: `fs.statSync` also builds an
/// object with four `Date`s in it.
#[napi]
pub fn stat_version(path: JsString, mut out: Float64ArraySlice) -> Result<i32> {
    // SAFETY: the slice is only written here, on the JS thread, during this call.
    let out = unsafe { out.as_mut() };
    if out.len() < FIELDS {
        return Err(Error::new(
            Status::InvalidArg,
            format!("out must hold {FIELDS} numbers"),
        ));
    }
    let mut bytes = [0u8; PATH_BYTES];
    let version = match utf8_onto(&path, &mut bytes)? {
        Some(len) => file_version(Path::new(OsStr::from_bytes(&bytes[..len]))),
        // Longer than a path can be: the kernel says so (ENAMETOOLONG), from a heap copy.
        None => file_version(Path::new(path.into_utf8()?.as_str()?)),
    };
    Ok(match version {
        Ok(version) => {
            out[..FIELDS].copy_from_slice(&fields(&version));
            0
        }
        Err(errno) => errno as i32,
    })
}

/// The UTF-8 bytes of `text` (as Node encodes a path: lone surrogates become U+FFFD) in `buffer`,
/// in one call and with no allocation; `None` when they may not fit.
fn utf8_onto(text: &JsString, buffer: &mut [u8]) -> Result<Option<usize>> {
    let value = text.value();
    let mut len = 0;
    // SAFETY: napi writes at most `buffer.len()` bytes (the last a NUL) and reports how many.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            value.env,
            value.value,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut len,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::StringExpected, "path must be a string"));
    }
    // A full buffer may have cut the string short.
    Ok((len < buffer.len() - 1).then_some(len))
}

/// As doubles, as Node's own `stat` hands them to JavaScript (dev and ino above 2^53 round the
/// same way there).
fn fields(v: &FileVersion) -> [f64; FIELDS] {
    [
        v.kind as i32 as f64,
        v.dev as f64,
        v.ino as f64,
        v.size as f64,
        v.mtime_sec as f64,
        v.mtime_nsec as f64,
        v.ctime_sec as f64,
        v.ctime_nsec as f64,
    ]
}
