//! The threads relays run on: a few OS threads, each driving its own single-threaded tokio
//! runtime, with connections handed out round-robin.
//!
//! Why not the caller's multi-threaded runtime: a relay is a chain of tiny steps, each woken by
//! epoll. On a work-stealing runtime the thread that receives the readiness event is often not
//! the one that last ran the relay, so most wake-ups cross threads (a futex and an eventfd write
//! each) and the relay's cache lines move between CPUs. Measured with `bench/proxy.mjs`
//! (unpinned, 2 CPUs): 1.31–1.39× the CPU per GiB of a blocking splice loop on tokio's
//! multi-threaded runtime, 0.94× with every relay staying on one single-threaded runtime. This
//! is nginx's model: each connection belongs to one worker for its whole life.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;

use nix::errno::Errno;
use tokio::runtime::{Builder, Handle};
use tokio::task::JoinHandle;

use crate::error::Failure;

/// Relay threads, started on first use and kept for the life of the process.
pub struct RelayWorkers {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

static WORKERS: OnceLock<RelayWorkers> = OnceLock::new();

/// No more threads than this, however many CPUs: one relay thread moves several GB/s, and each
/// idle one still costs a stack and an epoll instance.
const MAX_WORKERS: usize = 4;

impl RelayWorkers {
    /// The process's relay threads: one per CPU this process may run on, up to `MAX_WORKERS`.
    pub fn global() -> &'static RelayWorkers {
        WORKERS.get_or_init(|| {
            let count = thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, MAX_WORKERS);
            RelayWorkers {
                handles: (0..count).map(start_worker).collect(),
                next: AtomicUsize::new(0),
            }
        })
    }

    /// Runs `future` on the next relay thread; await the handle from any runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(future)
    }

    /// Starts `future` on the next relay thread at once; the returned future waits for its
    /// output, from any runtime. A panic inside comes back as an `EIO` failure instead of
    /// unwinding into the caller.
    pub fn run<F>(&self, future: F) -> impl Future<Output = Result<F::Output, Failure>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let running = self.spawn(future);
        async move { running.await.map_err(|_| Failure::os(Errno::EIO, "relay")) }
    }
}

fn start_worker(index: usize) -> Handle {
    let runtime = Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime for relays (an epoll instance and an eventfd)");
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name(format!("zerosend-relay-{index}"))
        // The runtime lives as long as the process; the thread ends with it.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("a thread for relays");
    handle
}
