use std::path::PathBuf;

use napi::bindgen_prelude::{Either, Either3, Uint8ArraySlice};
use napi::{Error, Result, Status};
use napi_derive::napi;
use tokio_util::sync::CancellationToken;
use zerosend_core::{drive, Choice, Method, Progress, Request, SourceSpec, Transfer};

use crate::completions::CompletionChannel;
use crate::outcome::NativeOutcome;

/// Methods by number, as `startTransfer()` takes and reports them: the order of `METHODS` in
/// `src/options.ts`, then `auto` for a server (`AUTO_FOR_SERVER` in `src/transfer/native.ts`). A
/// transfer reports the method that ran (1–4).
const METHOD_CODES: [Choice; 6] = [
    Choice::Auto,
    Choice::Exact(Method::Sendfile),
    Choice::Exact(Method::Splice),
    Choice::Exact(Method::Mmap),
    Choice::Exact(Method::Copy),
    Choice::AutoLeastCpu,
];

/// How many method codes fit below one byte of the success result: `bytes * 8 + method code`.
const METHOD_CODE_SPAN: f64 = 8.0;

/// Starts one file → descriptor transfer, as the TypeScript layer validated it: opens (`path`) or
/// borrows (`fd`, when `path` is null) the source and makes the first attempt on the JS thread,
/// so a small file is done here with no thread hop and no promise.
///
/// - `destFd`: the destination; the native side writes to its own `dup()` once it must park.
/// - `offset`, `length`: the file range (`length` < 0: to the end of the file).
/// - `method`: a code of `METHOD_CODES` (0 = `auto`, 5 = `auto` for a server).
/// - `prefix`: bytes sent before the file, in the same packets as its first bytes where the OS
///   allows.
/// - `destIsSocket`: the destination is a Node socket (always non-blocking): skips checking it.
///
/// Returns a number when the transfer finished — `bytes * 8 + the code of the method that ran` —
/// a `NativeTransfer` when the destination is full and `run()` must drive the rest, or a
/// `NativeOutcome` when it failed. Arguments are positional and success is a number because this
/// runs once per transfer: a request object, a wrapped class instance and an outcome object
/// each cost more to cross napi than the system calls of a 4 KiB transfer.
#[napi(ts_return_type = "number | NativeTransfer | NativeOutcome")]
#[allow(clippy::too_many_arguments)]
pub fn start_transfer(
    path: Option<String>,
    fd: i32,
    dest_fd: i32,
    offset: f64,
    length: f64,
    method: u32,
    prefix: Option<Uint8ArraySlice>,
    dest_is_socket: bool,
) -> Result<Either3<f64, NativeTransfer, NativeOutcome>> {
    let request = Request {
        source: match path {
            Some(path) => SourceSpec::Path(PathBuf::from(path)),
            None => SourceSpec::Fd(fd),
        },
        dest_fd,
        offset: to_u64(offset, "offset")?,
        length: (length >= 0.0)
            .then(|| to_u64(length, "length"))
            .transpose()?,
        method: *METHOD_CODES.get(method as usize).ok_or_else(|| {
            Error::new(Status::InvalidArg, format!("unknown method code {method}"))
        })?,
        prefix: prefix.map(|p| p.to_vec()).unwrap_or_default(),
    };
    // What a failure to open reports: nothing ran yet.
    let method = match request.method {
        Choice::Exact(method) => method,
        Choice::Auto | Choice::AutoLeastCpu => Method::Sendfile,
    };
    // SAFETY: the caller's descriptors stay open for this synchronous call (JS cannot run
    // meanwhile), and the transfer owns dups before it outlives the call (below).
    let mut transfer = match unsafe { Transfer::open_borrowed(request, dest_is_socket) } {
        Ok(transfer) => transfer,
        Err(failure) => return Ok(Either3::C(NativeOutcome::failed(method, failure))),
    };
    let result = match transfer.first_step() {
        Ok(Progress::Done) => Ok(()),
        Ok(Progress::WouldBlock | Progress::Yield) => match transfer.own_descriptors() {
            Ok(()) => return Ok(Either3::B(NativeTransfer::parked(transfer))),
            Err(failure) => Err(failure),
        },
        Err(failure) => Err(failure),
    };
    Ok(match result {
        // Exact while bytes < 2^50 (1 PiB): one first attempt sends the prefix and ≤ 1 MiB.
        Ok(()) => {
            Either3::A(transfer.bytes() as f64 * METHOD_CODE_SPAN + method_code(transfer.method()))
        }
        Err(failure) => Either3::C(NativeOutcome::new(
            transfer.bytes(),
            transfer.method(),
            Err(failure),
        )),
    })
}

fn method_code(method: Method) -> f64 {
    METHOD_CODES
        .iter()
        .position(|code| *code == Choice::Exact(method))
        .expect("every method has a code") as f64
}

/// A transfer `startTransfer()` began and could not finish on the JS thread: the destination was
/// full (or the first attempt's budget spent). `run()` drives the rest on the runtime.
#[napi]
pub struct NativeTransfer {
    /// Taken by `run()`.
    transfer: Option<Transfer>,
    total: u64,
    cancel: CancellationToken,
}

impl NativeTransfer {
    fn parked(transfer: Transfer) -> Self {
        NativeTransfer {
            total: transfer.total(),
            transfer: Some(transfer),
            cancel: CancellationToken::new(),
        }
    }
}

#[napi]
impl NativeTransfer {
    /// Bytes the transfer sends in all: prefix and file range.
    #[napi(getter)]
    pub fn total(&self) -> f64 {
        self.total as f64
    }

    /// Drives the rest of the transfer, parked on epoll while the destination is full, and
    /// reports on `channel` as job `id`: its end (a `NativeOutcome`), and with `reportProgress`
    /// its progress at most once per 2 MiB sent.
    #[napi]
    pub fn run(
        &mut self,
        channel: &CompletionChannel,
        id: u32,
        report_progress: bool,
    ) -> Result<()> {
        let Some(transfer) = self.transfer.take() else {
            return Err(Error::new(Status::InvalidArg, "run() runs once"));
        };
        let reporter = channel.reporter(id);
        let cancel = self.cancel.clone();
        napi::bindgen_prelude::spawn(async move {
            let outcome = drive(transfer, cancel, |bytes| {
                if report_progress {
                    reporter.progress(bytes);
                }
            })
            .await;
            reporter.ended(outcome.bytes, Either::A(NativeOutcome::from(outcome)));
        });
        Ok(())
    }

    /// Stops the transfer: before `run()`, or within one system call while it runs. The
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
