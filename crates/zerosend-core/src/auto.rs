//! `method: 'auto'`: which engine to use for a destination and a length.
//!
//! Measured with `bench/transfer.mjs` (README.md, "Choosing a method"): a peer on this machine
//! copies every byte out of the kernel anyway, and it copies faster from the socket buffers a
//! `write()` from a mapping just filled (hot in the CPU cache) than from page-cache pages that
//! sendfile queued by reference: mmap moved 1.33–1.57× sendfile's bytes from 256 KiB up on
//! loopback TCP, and from 1 MiB up on unix sockets; from 64 KiB to 256 KiB on loopback TCP a
//! plain copy did (1.13–1.23× sendfile). Below that, sendfile's fewer system calls win. A remote
//! peer behind a NIC with scatter-gather DMA sends page-cache pages with no CPU copy at all, which
//! is why nginx, Go and Bun use sendfile there — so does `auto`. A server whose own core is the
//! bottleneck asks for [`Goal::LeastCpu`]: sendfile for local peers too.

use std::net::IpAddr;
use std::os::fd::RawFd;

use nix::sys::socket::{getpeername, getsockname, AddressFamily, SockaddrLike, SockaddrStorage};

use crate::dest::{Dest, DestKind};
use crate::engine::Method;

/// From this length on, a TCP peer on this machine gets a copy...
const LOCAL_TCP_COPY_FROM: u64 = 64 * 1024;
/// ...and from this one on, mmap.
const LOCAL_TCP_MMAP_FROM: u64 = 256 * 1024;
/// From this length on, a unix-socket peer gets mmap (below it sendfile measured 3× faster).
const UNIX_MMAP_FROM: u64 = 1024 * 1024;

/// What `auto` optimises when the peer is on this machine (for a remote peer both mean sendfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// This transfer's throughput: the receiver copies faster from socket buffers a `write()`
    /// just filled than from page-cache pages sendfile queued by reference (above).
    Fastest,
    /// The sender's CPU per byte, for a server whose core is the bottleneck: sendfile, as for a
    /// remote peer. `bench/http.mjs` (32 clients on loopback, one server core, two runs): at 1 MiB
    /// sendfile served 1.31–1.47× mmap's bytes at 0.66–0.75× its CPU per byte; at 64 MiB
    /// 0.55–0.61× mmap's bytes (the client then copies from cold pages) at 0.64–0.71× its CPU.
    LeastCpu,
}

pub fn choose(dest: &Dest, length: u64, goal: Goal) -> Method {
    // XNU's sendfile can park the calling thread waiting for mbufs even on a non-blocking socket
    // (Bun turned it off on macOS for that), and our first step runs on Node's JS thread. Until
    // it is measured on macOS, `auto` copies there; `method: 'sendfile'` still asks for it.
    if cfg!(target_vendor = "apple") {
        return Method::Copy;
    }
    // Only now, for large files to sockets, is it worth two system calls to ask who the peer is.
    if goal == Goal::LeastCpu || dest.kind() != DestKind::Socket || length < LOCAL_TCP_COPY_FROM {
        return Method::Sendfile;
    }
    match peer_of(dest.raw()) {
        Peer::LocalTcp if length >= LOCAL_TCP_MMAP_FROM => Method::Mmap,
        Peer::LocalTcp => Method::Copy,
        Peer::Unix if length >= UNIX_MMAP_FROM => Method::Mmap,
        Peer::Unix | Peer::Remote => Method::Sendfile,
    }
}

enum Peer {
    /// AF_UNIX: always this machine.
    Unix,
    /// TCP/IP to a loopback address or to the address we are bound to.
    LocalTcp,
    /// Anything else, or unknown: across a network.
    Remote,
}

fn peer_of(fd: RawFd) -> Peer {
    let Ok(local) = getsockname::<SockaddrStorage>(fd) else {
        return Peer::Remote;
    };
    if local.family() == Some(AddressFamily::Unix) {
        return Peer::Unix;
    }
    let (Some(local), Ok(peer)) = (ip_of(&local), getpeername::<SockaddrStorage>(fd)) else {
        return Peer::Remote;
    };
    match ip_of(&peer) {
        Some(peer) if peer.is_loopback() || peer == local => Peer::LocalTcp,
        _ => Peer::Remote,
    }
}

/// The IP of an inet address, with IPv4-mapped IPv6 addresses unwrapped.
fn ip_of(address: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    let v6 = address.as_sockaddr_in6()?.ip();
    Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
}
