//! Why a transfer failed, with the Node-style code each reason maps to.

use std::fmt;

use nix::errno::Errno;

use crate::method::Method;

/// The reasons a transfer can fail. `code()` is the string Node users match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A system call failed with an errno that is the caller's to see (`ENOENT`, `EPIPE`, ...).
    Os { errno: Errno, syscall: &'static str },
    /// The file ended before `offset + length`: it was shorter from the start, or it was truncated
    /// while being sent.
    ShortFile { expected_end: u64, reached: u64 },
    /// `offset` or `length` lies outside what the file can give.
    OutOfRange {
        what: &'static str,
        value: u64,
        max: u64,
    },
    /// The source is not something a transfer can read from (a socket, a pipe).
    NotAFile { kind: &'static str },
    /// An explicitly requested method cannot serve this pair of descriptors.
    Unsupported {
        method: Method,
        errno: Errno,
        syscall: &'static str,
    },
    /// The caller cancelled the transfer (abort signal, socket closed by JS).
    Cancelled,
}

impl Failure {
    pub fn os(errno: Errno, syscall: &'static str) -> Self {
        Failure::Os { errno, syscall }
    }

    /// The Node-style error code: the errno name for system errors, `ERR_*` for our own.
    pub fn code(&self) -> String {
        match self {
            Failure::Os { errno, .. } => errno_name(*errno),
            Failure::ShortFile { .. } => "ERR_ZEROSEND_SHORT_FILE".into(),
            Failure::OutOfRange { .. } => "ERR_OUT_OF_RANGE".into(),
            Failure::NotAFile { .. } => "ERR_INVALID_ARG_VALUE".into(),
            Failure::Unsupported { .. } => "ERR_ZEROSEND_UNSUPPORTED".into(),
            Failure::Cancelled => "ABORT_ERR".into(),
        }
    }

    /// The system call that failed, where one did.
    pub fn syscall(&self) -> Option<&'static str> {
        match self {
            Failure::Os { syscall, .. } | Failure::Unsupported { syscall, .. } => Some(syscall),
            _ => None,
        }
    }

    /// The raw errno, where the failure came from one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Failure::Os { errno, .. } | Failure::Unsupported { errno, .. } => Some(*errno as i32),
            _ => None,
        }
    }
}

/// `ENOENT`, not `Errno::ENOENT`: the name Node puts in `err.code`.
fn errno_name(errno: Errno) -> String {
    format!("{errno:?}")
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Os { errno, syscall } => {
                write!(f, "{}: {}, {syscall}", errno_name(*errno), errno.desc())
            }
            Failure::ShortFile {
                expected_end,
                reached,
            } => write!(
                f,
                "the file ended at byte {reached} before the {expected_end} bytes the transfer needs \
                 (shorter than offset + length, or truncated while it was being sent)"
            ),
            Failure::OutOfRange { what, value, max } => write!(
                f,
                "The value of \"{what}\" is out of range. It must be >= 0 && <= {max}. Received {value}"
            ),
            Failure::NotAFile { kind } => {
                write!(f, "the source must be a regular file, but it is a {kind}")
            }
            Failure::Unsupported {
                method,
                errno,
                syscall,
            } => write!(
                f,
                "method '{method}' cannot transfer between these descriptors ({syscall}: {}); \
                 use method 'auto' to fall back to a plain copy",
                errno.desc()
            ),
            Failure::Cancelled => write!(f, "The operation was aborted"),
        }
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_node_conventions() {
        assert_eq!(Failure::os(Errno::ENOENT, "open").code(), "ENOENT");
        assert_eq!(Failure::os(Errno::EPIPE, "sendfile").code(), "EPIPE");
        assert_eq!(
            Failure::ShortFile {
                expected_end: 2,
                reached: 1
            }
            .code(),
            "ERR_ZEROSEND_SHORT_FILE"
        );
        assert_eq!(Failure::Cancelled.code(), "ABORT_ERR");
        assert!(Failure::os(Errno::ENOENT, "open")
            .to_string()
            .starts_with("ENOENT: No such file or directory, open"));
    }
}
