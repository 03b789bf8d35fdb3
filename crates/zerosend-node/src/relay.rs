//! Socket → socket relays for the TypeScript layer: `NativeRelay` (one way, for
//! `transfer(socket, dst)`) and `NativeProxy` (both ways, for `proxy(a, b)`). They report on the
//! environment's `CompletionChannel`; the relay itself runs on zerosend's relay threads
//! (`RelayWorkers`: one single-threaded runtime per connection, fewer cross-thread wake-ups),
//! parked on epoll while a side is not ready, and is cancelled through a handle of our own.

use napi::bindgen_prelude::{Either, Uint8Array};
use napi::{Error, Result, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;
use zerosend_core::{Method, Proxy, ProxyRequest, Relay, RelayRequest, RelayWorkers};

use crate::completions::CompletionChannel;
use crate::outcome::{NativeOutcome, NativeProxyOutcome};

/// A one-way relay from a socket to a socket (or pipe), as the TypeScript layer prepared it.
#[napi(object)]
pub struct NativeRelayRequest {
    /// Source descriptor, with Node's reading already stopped; the relay reads from its own `dup()`.
    pub src_fd: i32,
    /// Destination descriptor, with Node's queued writes flushed; the relay writes to its own `dup()`.
    pub dst_fd: i32,
    /// Bytes Node had already read from the source: sent to the destination first.
    pub prefix: Option<Uint8Array>,
    /// Half-close the destination (`shutdown(SHUT_WR)`) when the source ends.
    pub end: bool,
}

/// One direction, source socket → pipe → destination, until the source ends. The descriptors
/// are dup'ed by `run()`, on the JS thread, while the numbers are still the caller's.
#[napi]
pub struct NativeRelay {
    request: Option<NativeRelayRequest>,
    cancel: CancellationToken,
}

#[napi]
impl NativeRelay {
    #[napi(constructor)]
    pub fn new(request: NativeRelayRequest) -> Self {
        NativeRelay {
            request: Some(request),
            cancel: CancellationToken::new(),
        }
    }

    /// Dups both descriptors and relays until the source ends, reporting on `channel` as job
    /// `id`: its end (a `NativeOutcome` whose `method` is `splice`; failures, including a failed
    /// `dup()`, are in it), and with `reportProgress` its progress at most once per 2 MiB.
    #[napi]
    pub fn run(
        &mut self,
        channel: &CompletionChannel,
        id: u32,
        report_progress: bool,
    ) -> Result<()> {
        let request = self.request.take().ok_or_else(run_once)?;
        let opened = Relay::open(RelayRequest {
            src_fd: request.src_fd,
            dst_fd: request.dst_fd,
            prefix: request.prefix.map(|p| p.to_vec()).unwrap_or_default(),
            end: request.end,
        });
        let reporter = channel.reporter(id);
        let cancel = self.cancel.clone();
        napi::bindgen_prelude::spawn(async move {
            let outcome = match opened {
                Ok(relay) => {
                    let progress_reporter = reporter.clone();
                    let progress = move |bytes| {
                        if report_progress {
                            progress_reporter.progress(bytes);
                        }
                    };
                    match RelayWorkers::global()
                        .run(relay.run(cancel, progress))
                        .await
                    {
                        Ok(outcome) => NativeOutcome::from(outcome),
                        Err(failure) => NativeOutcome::failed(Method::Splice, failure),
                    }
                }
                Err(failure) => NativeOutcome::failed(Method::Splice, failure),
            };
            reporter.ended(outcome.bytes as u64, Either::A(outcome));
        });
        Ok(())
    }

    /// Stops the relay within one system call; the outcome then reports `ABORT_ERR` with the
    /// bytes already relayed. Bytes left in its pipe are discarded with the pipe.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for NativeRelay {
    /// A relay whose JS object is gone must not go on moving bytes nobody can account for.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A proxied connection: two sockets, both directions at once.
#[napi(object)]
pub struct NativeProxyRequest {
    /// Descriptor of side `a`, with Node's reading stopped and its queued writes flushed.
    pub a_fd: i32,
    /// Descriptor of side `b`, likewise.
    pub b_fd: i32,
    /// Bytes Node had already read from `a`: sent to `b` first.
    pub a_to_b_prefix: Option<Uint8Array>,
    /// Bytes Node had already read from `b`: sent to `a` first.
    pub b_to_a_prefix: Option<Uint8Array>,
}

/// Both directions of a proxied connection, each over its own pipe; an end on one side is
/// passed on as a half-close of the other.
#[napi]
pub struct NativeProxy {
    request: Option<NativeProxyRequest>,
    cancel: CancellationToken,
}

#[napi]
impl NativeProxy {
    #[napi(constructor)]
    pub fn new(request: NativeProxyRequest) -> Self {
        NativeProxy {
            request: Some(request),
            cancel: CancellationToken::new(),
        }
    }

    /// Dups both descriptors and relays both ways until both sides have ended or either fails,
    /// then reports on `channel` as job `id` (a `NativeProxyOutcome`; failures are in it).
    #[napi]
    pub fn run(&mut self, channel: &CompletionChannel, id: u32) -> Result<()> {
        let request = self.request.take().ok_or_else(run_once)?;
        let opened = Proxy::open(ProxyRequest {
            a_fd: request.a_fd,
            b_fd: request.b_fd,
            a_to_b_prefix: request
                .a_to_b_prefix
                .map(|p| p.to_vec())
                .unwrap_or_default(),
            b_to_a_prefix: request
                .b_to_a_prefix
                .map(|p| p.to_vec())
                .unwrap_or_default(),
        });
        let reporter = channel.reporter(id);
        let cancel = self.cancel.clone();
        napi::bindgen_prelude::spawn(async move {
            let ended = match opened {
                Ok(proxy) => RelayWorkers::global().run(proxy.run(cancel)).await,
                Err(failure) => Err(failure),
            };
            let outcome = match ended {
                Ok(ended) => NativeProxyOutcome {
                    a_to_b: ended.a_to_b as f64,
                    b_to_a: ended.b_to_a as f64,
                    outcome: NativeOutcome::new(
                        ended.a_to_b + ended.b_to_a,
                        Method::Splice,
                        ended.result,
                    ),
                },
                Err(failure) => NativeProxyOutcome {
                    a_to_b: 0.0,
                    b_to_a: 0.0,
                    outcome: NativeOutcome::failed(Method::Splice, failure),
                },
            };
            reporter.ended(outcome.outcome.bytes as u64, Either::B(outcome));
        });
        Ok(())
    }

    /// Stops both directions within one system call; the outcome then reports `ABORT_ERR`.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for NativeProxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// How many empty pipes the native pipe pool keeps open (two descriptors each), so that a test
/// counting `/proc/self/fd` can tell pooled pipes from leaked ones.
#[napi]
pub fn native_idle_pipes() -> u32 {
    zerosend_core::idle_pipes() as u32
}

fn run_once() -> Error {
    Error::new(Status::InvalidArg, "run() runs once")
}
