//! A two-way socket relay (a proxy's connection): `a → b` and `b → a` at once over splice(2),
//! each direction with its own pipe. The end of one side becomes a half-close of the other while
//! the other direction keeps flowing; a failure in either direction stops both.

use std::os::fd::RawFd;

use tokio_util::sync::CancellationToken;

use super::end::OpenEnd;
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
    a: OpenEnd,
    b: OpenEnd,
    a_to_b: Flow,
    b_to_a: Flow,
}

impl Proxy {
    /// Dups both descriptors, on the caller's thread (see [`crate::Relay::open`]).
    pub fn open(request: ProxyRequest) -> Result<Self, Failure> {
        Ok(Proxy {
            a: OpenEnd::open(request.a_fd)?,
            b: OpenEnd::open(request.b_fd)?,
            a_to_b: Flow::new(request.a_to_b_prefix, true),
            b_to_a: Flow::new(request.b_to_a_prefix, true),
        })
    }

    /// Relays both ways until both sides have ended, either direction fails, or `cancel` fires.
    /// Must run on a tokio runtime with IO enabled. Our dups are closed before this returns.
    pub async fn run(self, cancel: CancellationToken) -> ProxyOutcome {
        let Proxy {
            a,
            b,
            mut a_to_b,
            mut b_to_a,
        } = self;
        let result = async {
            // One registration per socket, shared by the direction reading it and the one
            // writing it: tokio keeps separate wakers for readable and writable.
            let a = a.register()?;
            let b = b.register()?;
            let (mut quiet_a, mut quiet_b) = (|_| {}, |_| {});
            // try_join: the first failure drops the other direction at once.
            let both = async {
                tokio::try_join!(
                    a_to_b.run(&a, &b, &mut quiet_a),
                    b_to_a.run(&b, &a, &mut quiet_b),
                )
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => Err(Failure::Cancelled),
                result = both => result.map(|_| ()),
            }
        }
        .await;
        ProxyOutcome {
            a_to_b: a_to_b.bytes(),
            b_to_a: b_to_a.bytes(),
            result,
        }
    }
}
