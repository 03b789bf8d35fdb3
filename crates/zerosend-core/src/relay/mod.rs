//! Socket → socket relays over splice(2): socket → pipe → socket inside the kernel, the bytes
//! never in user space. [`Relay`] is one direction (until the source ends); [`Proxy`] is both
//! directions of a connection at once. Both own `dup()`s of the caller's descriptors, park on
//! epoll whenever a side is not ready (through tokio, registered only while parked and only for
//! what a direction waits for), and hold a pipe from the pool only while it carries bytes.
//! [`RelayWorkers`] is where they run: each connection on one single-threaded runtime for its
//! whole life. Linux only: splice does not exist elsewhere.

mod connection;
mod end;
mod flow;
mod one_way;
mod poller;
mod proxy;
mod workers;

pub use one_way::{Relay, RelayRequest};
pub use proxy::{Proxy, ProxyOutcome, ProxyRequest};
pub use workers::RelayWorkers;
