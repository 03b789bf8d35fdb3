//! A one-way socket relay: bytes from a source socket to a destination socket over splice(2)
//! (socket → pipe → socket, never through user space), until the source ends.

use std::os::fd::RawFd;

use tokio_util::sync::CancellationToken;

use super::connection::{self, Route};
use super::end::RelayEnd;
use super::flow::Flow;
use crate::driver::Outcome;
use crate::error::Failure;
use crate::method::Method;

/// What to relay where.
#[derive(Debug, Clone)]
pub struct RelayRequest {
    /// The caller's source descriptor (a socket or pipe); the relay reads from its own `dup()`.
    pub src_fd: RawFd,
    /// The caller's destination descriptor; the relay writes to its own `dup()`.
    pub dst_fd: RawFd,
    /// Bytes sent before anything from the source: what the caller had already read from it.
    pub prefix: Vec<u8>,
    /// Pass the source's end on as `shutdown(SHUT_WR)` of the destination.
    pub end: bool,
}

/// A relay whose descriptors are dup'ed and made non-blocking, ready to run.
pub struct Relay {
    /// The source (0) and the destination (1).
    ends: [RelayEnd; 2],
    route: Route,
}

impl Relay {
    /// Dups both descriptors. Call it on the thread where the caller's numbers are valid: a
    /// number closed and reused meanwhile would point the relay at someone else's file.
    pub fn open(request: RelayRequest) -> Result<Self, Failure> {
        Ok(Relay {
            ends: [
                RelayEnd::open(request.src_fd)?,
                RelayEnd::open(request.dst_fd)?,
            ],
            route: Route::new(Flow::new(request.prefix, request.end), 0, 1),
        })
    }

    /// Relays until the source ends, a call fails, or `cancel` fires, parked on epoll whenever a
    /// side is not ready. Must run on a tokio runtime with IO enabled. `on_progress` hears the
    /// byte count at most once per 2 MiB. Our dups are closed before this returns.
    pub async fn run(
        self,
        cancel: CancellationToken,
        mut on_progress: impl FnMut(u64) + Send,
    ) -> Outcome {
        let Relay { ends, route } = self;
        let mut routes = [route];
        let result = tokio::select! {
            // Checked first, so a cancelled relay makes no further system call.
            biased;
            () = cancel.cancelled() => Err(Failure::Cancelled),
            result = connection::run(&ends, &mut routes, &mut on_progress) => result,
        };
        Outcome {
            bytes: routes[0].flow.bytes(),
            method: Method::Splice,
            result,
        }
    }
}
