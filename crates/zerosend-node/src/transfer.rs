use std::path::PathBuf;

use napi::bindgen_prelude::{Function, PromiseRaw, Uint8Array};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;
use zerosend_core::limits::FIRST_STEP_BYTES;
use zerosend_core::{drive, Failure, Method, Progress, Request, SourceSpec, Transfer};

use crate::outcome::NativeOutcome;

/// One file → descriptor transfer, as the TypeScript layer validated it.
#[napi(object)]
pub struct TransferRequest {
    /// Path of the source file, opened read-only by the native side.
    pub path: Option<String>,
    /// Descriptor of the source file; the native side reads from its own `dup()` at explicit
    /// offsets, so the caller's descriptor and file position stay untouched.
    pub fd: Option<i32>,
    /// Destination descriptor; the native side writes to its own `dup()`.
    pub dest_fd: i32,
    /// First byte of the file to send (an integer, validated by the caller).
    pub offset: f64,
    /// Bytes of the file to send; absent means to the end of the file.
    pub length: Option<f64>,
    /// `auto`, `sendfile`, `splice`, `mmap` or `copy`.
    pub method: String,
    /// Bytes sent before the file, in the same packets as its first bytes where the OS allows.
    pub prefix: Option<Uint8Array>,
    /// The destination is a Node socket (always non-blocking): skips checking what it is.
    pub dest_is_socket: Option<bool>,
}

enum Stage {
    /// Nothing opened yet; the flag is `dest_is_socket`.
    Ready(Request, bool),
    /// Opened, partly sent on the caller's thread, waiting to be driven by the runtime.
    Started(Transfer),
    /// Handed to the runtime, or finished.
    Gone,
}

/// A transfer the TypeScript layer runs in two phases: `runSync()` makes the first attempt on the
/// JS thread (a small file is done there, with no thread hop and no promise), and only if the
/// destination is full does `run()` hand the rest to the runtime, which parks on epoll.
#[napi]
pub struct NativeTransfer {
    stage: Stage,
    total: u64,
    cancel: CancellationToken,
}

#[napi]
impl NativeTransfer {
    #[napi(constructor)]
    pub fn new(request: TransferRequest) -> Result<Self> {
        Ok(NativeTransfer {
            stage: Stage::Ready(
                to_core_request(&request)?,
                request.dest_is_socket.unwrap_or(false),
            ),
            total: 0,
            cancel: CancellationToken::new(),
        })
    }

    /// Bytes the transfer will send in all (prefix and file range), known once `runSync()` ran.
    #[napi(getter)]
    pub fn total(&self) -> f64 {
        self.total as f64
    }

    /// Opens the source and makes the first attempt. Returns the outcome if the transfer ended
    /// (done or failed), or `null` if the rest must be driven by `run()`.
    #[napi]
    pub fn run_sync(&mut self) -> Result<Option<NativeOutcome>> {
        let Stage::Ready(request, dest_is_socket) = std::mem::replace(&mut self.stage, Stage::Gone)
        else {
            return Err(Error::new(Status::InvalidArg, "runSync() runs once"));
        };
        Ok(self.first_attempt(request, dest_is_socket))
    }

    fn first_attempt(&mut self, request: Request, dest_is_socket: bool) -> Option<NativeOutcome> {
        let method = request.method.unwrap_or(Method::Sendfile);
        if self.cancel.is_cancelled() {
            return Some(NativeOutcome::failed(method, Failure::Cancelled));
        }
        // SAFETY: the caller's descriptors stay open for this synchronous call (JS cannot run
        // meanwhile), and the transfer owns dups before it outlives the call (below).
        let mut transfer = match unsafe { Transfer::open_borrowed(request, dest_is_socket) } {
            Ok(transfer) => transfer,
            Err(failure) => return Some(NativeOutcome::failed(method, failure)),
        };
        self.total = transfer.total();
        let result = match transfer.step(FIRST_STEP_BYTES) {
            Ok(Progress::Done) => Ok(()),
            Ok(Progress::WouldBlock | Progress::Yield) => match transfer.own_descriptors() {
                Ok(()) => {
                    self.stage = Stage::Started(transfer);
                    return None;
                }
                Err(failure) => Err(failure),
            },
            Err(failure) => Err(failure),
        };
        Some(NativeOutcome::new(
            transfer.bytes(),
            transfer.method(),
            result,
        ))
    }

    /// Drives the rest of a transfer `runSync()` started, parked on epoll while the destination
    /// is full. `onProgress(bytes)` is called at most once per 2 MiB sent; it does not keep Node
    /// alive. The promise always resolves: failures are in the outcome.
    #[napi(ts_return_type = "Promise<NativeOutcome>")]
    pub fn run<'env>(
        &mut self,
        env: &'env Env,
        on_progress: Option<Function<'env, f64, ()>>,
    ) -> Result<PromiseRaw<'env, NativeOutcome>> {
        let Stage::Started(transfer) = std::mem::replace(&mut self.stage, Stage::Gone) else {
            return Err(Error::new(
                Status::InvalidArg,
                "run() needs a transfer that runSync() started and did not finish",
            ));
        };
        let progress = on_progress
            .map(|f| {
                f.build_threadsafe_function::<f64>()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build()
            })
            .transpose()?;
        let cancel = self.cancel.clone();
        env.spawn_future(async move {
            let outcome = drive(transfer, cancel, |bytes| {
                if let Some(progress) = &progress {
                    // NonBlocking: progress is advisory, never a reason to stall a transfer.
                    progress.call(bytes as f64, ThreadsafeFunctionCallMode::NonBlocking);
                }
            })
            .await;
            Ok(NativeOutcome::from(outcome))
        })
    }

    /// Stops the transfer: before it starts, or within one system call while it runs. The
    /// outcome then reports `ABORT_ERR` with the bytes already sent.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for NativeTransfer {
    /// A transfer whose JS object is gone (its worker terminated, its env torn down) must not go
    /// on writing to a socket nobody can see.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn to_core_request(request: &TransferRequest) -> Result<Request> {
    let source = match (&request.path, request.fd) {
        (Some(path), None) => SourceSpec::Path(PathBuf::from(path)),
        (None, Some(fd)) => SourceSpec::Fd(fd),
        _ => {
            return Err(Error::new(
                Status::InvalidArg,
                "exactly one of path and fd is needed",
            ))
        }
    };
    let method = match request.method.as_str() {
        "auto" => None,
        name => Some(
            name.parse::<Method>()
                .map_err(|()| Error::new(Status::InvalidArg, format!("unknown method '{name}'")))?,
        ),
    };
    Ok(Request {
        source,
        dest_fd: request.dest_fd,
        offset: to_u64(request.offset, "offset")?,
        length: request.length.map(|l| to_u64(l, "length")).transpose()?,
        method,
        prefix: request
            .prefix
            .as_ref()
            .map(|p| p.to_vec())
            .unwrap_or_default(),
    })
}

/// JS numbers are exact integers up to 2^53; the TypeScript layer has checked the range already.
fn to_u64(value: f64, name: &str) -> Result<u64> {
    if value.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&value) {
        Ok(value as u64)
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be a safe non-negative integer, got {value}"),
        ))
    }
}
