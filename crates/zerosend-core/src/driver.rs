//! Drives a transfer to its end on a tokio runtime: step, and on `EAGAIN` park on the
//! destination's readiness (epoll), which costs nothing while parked.

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use nix::errno::Errno;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio_util::sync::CancellationToken;

use crate::error::Failure;
use crate::limits::STEP_BYTES;
use crate::method::Method;
use crate::transfer::{Progress, Transfer};

/// How a driven transfer ended.
#[derive(Debug)]
pub struct Outcome {
    /// Bytes that reached the destination, prefix included, whether or not it succeeded.
    pub bytes: u64,
    /// The method that moved the last bytes.
    pub method: Method,
    pub result: Result<(), Failure>,
}

/// Runs `transfer` to completion, failure, or cancellation. `on_progress` gets the byte count at
/// most once per step's worth of bytes (`STEP_BYTES`), never per system call.
pub async fn drive(
    mut transfer: Transfer,
    cancel: CancellationToken,
    mut on_progress: impl FnMut(u64) + Send,
) -> Outcome {
    let result = {
        let running = pin!(run(&mut transfer, &mut on_progress));
        tokio::select! {
            // Checked first, so a cancelled transfer makes no further system call.
            biased;
            () = cancel.cancelled() => Err(Failure::Cancelled),
            // A panic is a bug of ours, but it must still end the transfer with an outcome: whoever
            // waits for it (a JS promise, a process kept alive for it) would otherwise wait forever.
            result = CatchPanic(running) => result.unwrap_or(Err(Failure::os(Errno::EIO, "transfer"))),
        }
    };
    Outcome {
        bytes: transfer.bytes(),
        method: transfer.method(),
        result,
    }
}

async fn run(transfer: &mut Transfer, on_progress: &mut impl FnMut(u64)) -> Result<(), Failure> {
    // Registered with epoll on the first EAGAIN only: a transfer that never blocks never pays.
    // Dropped (deregistered) when this future ends, before the transfer closes its descriptor.
    let mut readiness: Option<AsyncFd<Watched>> = None;
    let mut reported = transfer.bytes();
    loop {
        match transfer.step(STEP_BYTES)? {
            Progress::Done => return Ok(()),
            // Fairness: give other transfers on this runtime thread their turn.
            Progress::Yield => tokio::task::yield_now().await,
            Progress::WouldBlock => {
                let watched = match &readiness {
                    Some(watched) => watched,
                    None => readiness.insert(watch(transfer.dest_fd())?),
                };
                let mut ready = watched
                    .writable()
                    .await
                    .map_err(|e| io_failure(e, "epoll_wait"))?;
                // Safe against lost wake-ups: we clear, then always make a fresh attempt.
                ready.clear_ready();
            }
        }
        if transfer.bytes() - reported >= STEP_BYTES {
            reported = transfer.bytes();
            on_progress(reported);
        }
    }
}

/// Polls a future, turning a panic inside it into `Err(())`.
struct CatchPanic<'a, F>(Pin<&'a mut F>);

impl<F: Future> Future for CatchPanic<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// The destination as epoll sees it. Holds the number only: the transfer owns the descriptor.
struct Watched(RawFd);

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn watch(fd: RawFd) -> Result<AsyncFd<Watched>, Failure> {
    // SAFETY: the transfer owns `fd` and outlives this registration: `run` holds the transfer
    // borrowed for as long as its local AsyncFd exists, and drops the AsyncFd first.
    unsafe { AsyncFd::register_with_interest(Watched(fd), Interest::WRITABLE) }
        .map_err(|e| io_failure(e.into(), "epoll_ctl"))
}

fn io_failure(e: std::io::Error, syscall: &'static str) -> Failure {
    let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    Failure::os(errno, syscall)
}
