//! A two-way socket relay (a proxy's connection): `a → b` and `b → a` at once over splice(2),
//! each direction with its own pipe. The end of one side becomes a half-close of the other while
//! the other direction keeps flowing; a failure in either direction stops both.

use std::os::fd::RawFd;

use tokio_util::sync::CancellationToken;

use super::connection::{self, Route};
use super::end::RelayEnd;
use super::flow::Flow;
use crate::error::Failure;

/// The two sockets of a proxied connection.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// The caller's descriptor of side `a`; the proxy works on its own `dup()`.
    pub a_fd: RawFd,
    /// The caller's descriptor of side `b`; the proxy works on its own `dup()`.
    pub b_fd: RawFd,
    /// Bytes already read from `a` (by JS) that are owed to `b` before anything else.
    pub a_to_b_prefix: Vec<u8>,
    /// Bytes already read from `b` that are owed to `a` before anything else.
    pub b_to_a_prefix: Vec<u8>,
}

/// How a proxied connection ended.
#[derive(Debug)]
pub struct ProxyOutcome {
    /// Bytes that reached `b` from `a`, prefix included, whether or not it succeeded.
    pub a_to_b: u64,
    /// Bytes that reached `a` from `b`, prefix included.
    pub b_to_a: u64,
    /// `Ok` once both directions have ended; else the first failure (or `Cancelled`).
    pub result: Result<(), Failure>,
}

/// A proxied connection whose descriptors are dup'ed and made non-blocking, ready to run.
pub struct Proxy {
    /// `a` (0) and `b` (1).
    ends: [RelayEnd; 2],
    /// `a → b`, then `b → a`.
    routes: [Route; 2],
}

impl Proxy {
    /// Dups both descriptors, on the caller's thread (see [`crate::Relay::open`]).
    pub fn open(request: ProxyRequest) -> Result<Self, Failure> {
        Ok(Proxy {
            ends: [RelayEnd::open(request.a_fd)?, RelayEnd::open(request.b_fd)?],
            routes: [
                Route::new(Flow::new(request.a_to_b_prefix, true), 0, 1),
                Route::new(Flow::new(request.b_to_a_prefix, true), 1, 0),
            ],
        })
    }

    /// Relays both ways until both sides have ended, either direction fails, or `cancel` fires.
    /// Must run on a tokio runtime with IO enabled. Our dups are closed before this returns.
    pub async fn run(self, cancel: CancellationToken) -> ProxyOutcome {
        let Proxy { ends, mut routes } = self;
        let mut quiet = |_| {};
        // Both directions in one task: the first failure stops the other at once.
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(Failure::Cancelled),
            result = connection::run(&ends, &mut routes, &mut quiet) => result,
        };
        ProxyOutcome {
            a_to_b: routes[0].flow.bytes(),
            b_to_a: routes[1].flow.bytes(),
            result,
        }
    }
}
