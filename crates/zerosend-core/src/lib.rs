//! zerosend-core: zero-copy transfers from a file to a socket, with no Node in it.
//!
//! A [`Transfer`] owns its descriptors (its own `dup()`s), moves bytes one non-blocking step at a
//! time through one of four [`Method`]s, and is driven to completion by [`drive`], which parks on
//! the destination's readiness (epoll, through tokio's `AsyncFd`) whenever the kernel says `EAGAIN`.
//! On Linux, [`Relay`] and [`Proxy`] move bytes from socket to socket the same way, over splice.

mod auto;
pub mod capabilities;
#[cfg(target_os = "linux")]
mod change_ring;
mod dest;
pub mod driver;
mod engine;
pub mod error;
mod fd;
pub mod file_version;
pub mod limits;
mod method;
pub mod open_beneath;
pub mod path_watch;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod pipe_pool;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod relay;
mod source;
#[cfg(test)]
mod test_dir;
mod transfer;

pub use capabilities::{capabilities, Capabilities};
pub use driver::{drive, Outcome};
pub use error::Failure;
pub use file_version::{file_version, FileKind, FileVersion};
pub use method::Method;
pub use open_beneath::open_beneath;
pub use path_watch::{Check, PathWatch};
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use pipe_pool::idle_count as idle_pipes;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use relay::{Proxy, ProxyOutcome, ProxyRequest, Relay, RelayRequest, RelayWorkers};
pub use transfer::{Choice, Progress, Request, SourceSpec, Transfer};
