//! Socket → socket relays for the TypeScript layer: `NativeRelay` (one way, for
//! `transfer(socket, dst)`) and `NativeProxy` (both ways, for `proxy(a, b)`). The promise lives on
//! napi's tokio runtime; the relay itself runs on zerosend's relay threads (`RelayWorkers`: one
//! single-threaded runtime per connection, fewer cross-thread wake-ups), parked on epoll while a
//! side is not ready, and is cancelled through a handle of our own (napi's `AbortSignal` cannot
//! stop a running future).

use napi::bindgen_prelude::{Function, PromiseRaw, Uint8Array};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;
use zerosend_core::{Method, Proxy, ProxyRequest, Relay, RelayRequest, RelayWorkers};

use crate::outcome::NativeOutcome;

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

    /// Dups both descriptors and relays until the source ends. `onProgress(bytes)` is called at
    /// most once per 2 MiB; it does not keep Node alive. The promise always resolves: failures
    /// (including a failed `dup()`) are in the outcome, whose `method` is `splice`.
    #[napi(ts_return_type = "Promise<NativeOutcome>")]
    pub fn run<'env>(
        &mut self,
        env: &'env Env,
        on_progress: Option<Function<'env, f64, ()>>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let request = self.request.take().ok_or_else(run_once)?;
        let progress = on_progress
            .map(|f| {
                f.build_threadsafe_function::<f64>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build()
            })
            .transpose()?;
        let opened = Relay::open(RelayRequest {
            src_fd: request.src_fd,
            dst_fd: request.dst_fd,
            prefix: request.prefix.map(|p| p.to_vec()).unwrap_or_default(),
            end: request.end,
        });
        let cancel = self.cancel.clone();
        env.spawn_future(async move {
            let relay = match opened {
                Ok(relay) => relay,
                Err(failure) => return Ok(NativeOutcome::failed(Method::Splice, failure)),
            };
            let running = RelayWorkers::global().run(relay.run(cancel, move |bytes| {
                if let Some(progress) = &progress {
                    // NonBlocking: progress is advisory, never a reason to stall the relay.
                    progress.call(bytes as f64, ThreadsafeFunctionCallMode::NonBlocking);
                }
            }));
            // The threadsafe function is dropped with the relay's future: nothing keeps Node alive.
            Ok(match running.await {
                Ok(outcome) => NativeOutcome::from(outcome),
                Err(failure) => NativeOutcome::failed(Method::Splice, failure),
            })
        })
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

    /// Dups both descriptors and relays both ways until both sides have ended or either fails.
    /// The promise always resolves: failures are in the outcome.
    #[napi(ts_return_type = "Promise<NativeProxyOutcome>")]
    pub fn run<'env>(&mut self, env: &'env Env) -> Result<PromiseRaw<'env, NativeProxyOutcome>> {
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
        let cancel = self.cancel.clone();
        env.spawn_future(async move {
            let proxy = match opened {
                Ok(proxy) => proxy,
                Err(failure) => {
                    return Ok(NativeProxyOutcome {
                        a_to_b: 0.0,
                        b_to_a: 0.0,
                        outcome: NativeOutcome::failed(Method::Splice, failure),
                    })
                }
            };
            let ended = match RelayWorkers::global().run(proxy.run(cancel)).await {
                Ok(ended) => ended,
                Err(failure) => {
                    return Ok(NativeProxyOutcome {
                        a_to_b: 0.0,
                        b_to_a: 0.0,
                        outcome: NativeOutcome::failed(Method::Splice, failure),
                    })
                }
            };
            Ok(NativeProxyOutcome {
                a_to_b: ended.a_to_b as f64,
                b_to_a: ended.b_to_a as f64,
                outcome: NativeOutcome::new(
                    ended.a_to_b + ended.b_to_a,
                    Method::Splice,
                    ended.result,
                ),
            })
        })
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
