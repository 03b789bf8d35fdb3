use napi_derive::napi;
use zerosend_core::{Failure, Method, Outcome};

/// How a transfer ended. Failures are data, not exceptions: the TypeScript layer turns them into
/// errors with `code` and `bytes`, so that nothing is thrown across the boundary.
#[napi(object)]
pub struct NativeOutcome {
    /// Bytes that reached the destination, prefix included.
    pub bytes: f64,
    /// The method that moved the bytes.
    pub method: String,
    /// Set when the transfer failed: a Node-style code (`ENOENT`, `ERR_ZEROSEND_SHORT_FILE`...).
    pub code: Option<String>,
    pub message: Option<String>,
    pub syscall: Option<String>,
    pub errno: Option<i32>,
}

impl NativeOutcome {
    pub fn new(bytes: u64, method: Method, result: Result<(), Failure>) -> Self {
        let failure = result.err();
        NativeOutcome {
            // Exact up to 2^53 bytes (8 PiB).
            bytes: bytes as f64,
            method: method.as_str().to_owned(),
            code: failure.as_ref().map(Failure::code),
            message: failure.as_ref().map(ToString::to_string),
            syscall: failure
                .as_ref()
                .and_then(Failure::syscall)
                .map(str::to_owned),
            errno: failure.as_ref().and_then(Failure::errno),
        }
    }

    /// A failure before anything was sent.
    pub fn failed(method: Method, failure: Failure) -> Self {
        Self::new(0, method, Err(failure))
    }
}

impl From<Outcome> for NativeOutcome {
    fn from(outcome: Outcome) -> Self {
        NativeOutcome::new(outcome.bytes, outcome.method, outcome.result)
    }
}

/// How a proxied connection ended: the byte count of each direction, and the failure if any.
#[napi(object)]
pub struct NativeProxyOutcome {
    /// Bytes that reached `b` from `a`.
    pub a_to_b: f64,
    /// Bytes that reached `a` from `b`.
    pub b_to_a: f64,
    /// The failure (`code` set) or success; `bytes` is both directions together.
    pub outcome: NativeOutcome,
}
