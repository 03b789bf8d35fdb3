//! zerosend-core: zero-copy transfers from a file to a socket, with no Node in it.
//!
//! A [`Transfer`] owns its descriptors (its own `dup()`s), moves bytes one non-blocking step at a
//! time through one of four [`Method`]s, and is driven to completion by [`drive`], which parks on
//! the destination's readiness (epoll, through tokio's `AsyncFd`) whenever the kernel says `EAGAIN`.

mod auto;
pub mod capabilities;
mod dest;
pub mod driver;
mod engine;
pub mod error;
mod fd;
mod flow;
pub mod limits;
mod pipe_pool;
mod proxy;
mod relay;
mod relay_end;
mod source;
mod transfer;

pub use capabilities::{capabilities, Capabilities};
pub use driver::{drive, Outcome};
pub use engine::Method;
pub use error::Failure;
pub use pipe_pool::idle_count as idle_pipes;
pub use proxy::{Proxy, ProxyOutcome, ProxyRequest};
pub use relay::{Relay, RelayRequest};
pub use transfer::{Progress, Request, SourceSpec, Transfer};
