//! One channel per JS environment through which every parked transfer, relay and proxied
//! connection (a "job") reports its progress and its end.
//!
//! Why not a promise per job (`Env::spawn_future`): each such promise, and each progress
//! callback, is a threadsafe function, i.e. one libuv async handle, and libuv walks every async
//! handle of the loop on each wake-up of any of them. With thousands of transfers parked, every
//! wake-up of the event loop got slower (`fs.promises.stat` p50 12 → 74 µs with 4 000 parked).
//! Here there is one handle, whatever the number of jobs; the TypeScript side
//! (`src/binding/completions.ts`) routes each event to its job by id.

use std::sync::Arc;

use napi::bindgen_prelude::{Either, FnArgs, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{check_status, sys, Env, Result, Status};
use napi_derive::napi;

use crate::outcome::{NativeOutcome, NativeProxyOutcome};

/// How a job ended: a transfer or a relay, or a proxied connection (both directions).
pub type Ended = Either<NativeOutcome, NativeProxyOutcome>;

/// What a job reports: its progress (no outcome yet), or its end.
pub struct Event {
    pub id: u32,
    pub bytes: u64,
    pub outcome: Option<Ended>,
}

type HandlerArgs = FnArgs<(u32, f64, Option<Ended>)>;

/// Weak: the channel alone never keeps Node alive; `keepAlive(true)` does while transfers wait.
type Sender = ThreadsafeFunction<Event, (), HandlerArgs, Status, false, true>;

/// The channel of one JS environment (the main thread, or one worker).
#[napi]
pub struct CompletionChannel {
    sender: Arc<Sender>,
}

#[napi]
impl CompletionChannel {
    /// `handler(id, bytes, outcome)` runs on the JS thread: progress of job `id` when `outcome`
    /// is absent, its end otherwise.
    #[napi(constructor)]
    pub fn new(
        #[napi(
            ts_arg_type = "(id: number, bytes: number, outcome?: NativeOutcome | NativeProxyOutcome) => void"
        )]
        handler: Function<HandlerArgs, ()>,
    ) -> Result<Self> {
        let sender = handler
            .build_threadsafe_function::<Event>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|ctx| {
                let Event { id, bytes, outcome } = ctx.value;
                // Exact up to 2^53 bytes (8 PiB).
                Ok(FnArgs::from((id, bytes as f64, outcome)))
            })?;
        Ok(CompletionChannel {
            sender: Arc::new(sender),
        })
    }

    /// Whether the channel keeps Node's event loop alive. On while any job runs, or a process
    /// whose only work left is a parked transfer would exit under it; off when none does.
    #[napi]
    pub fn keep_alive(&self, env: Env, on: bool) -> Result<()> {
        let raw = self.sender.raw();
        // SAFETY: called on the JS thread of the environment that created the function, which
        // is what napi_ref/unref_threadsafe_function require; `raw` lives as long as `sender`.
        check_status!(unsafe {
            if on {
                sys::napi_ref_threadsafe_function(env.raw(), raw)
            } else {
                sys::napi_unref_threadsafe_function(env.raw(), raw)
            }
        })
    }
}

impl CompletionChannel {
    /// Where job `id` reports, from any thread.
    pub fn reporter(&self, id: u32) -> Reporter {
        Reporter {
            sender: Arc::clone(&self.sender),
            id,
        }
    }
}

/// One job's end of the channel.
#[derive(Clone)]
pub struct Reporter {
    sender: Arc<Sender>,
    id: u32,
}

impl Reporter {
    pub fn progress(&self, bytes: u64) {
        self.send(bytes, None);
    }

    pub fn ended(&self, bytes: u64, outcome: Ended) {
        self.send(bytes, Some(outcome));
    }

    /// NonBlocking on an unbounded queue: it only fails once the environment is being torn
    /// down, and then nobody is left to tell.
    fn send(&self, bytes: u64, outcome: Option<Ended>) {
        let event = Event {
            id: self.id,
            bytes,
            outcome,
        };
        let _ = self
            .sender
            .call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}
