//! `method: 'auto'`: which engine to use for a destination and a length.
//!
//! Measured with `bench/transfer.mjs` (README.md, "Choosing a method"). A remote peer behind a
//! NIC with scatter-gather DMA sends page-cache pages with no CPU copy at all, which is why nginx,
//! Go and Bun use sendfile there — so does `auto`. A local TCP peer gets sendfile too, unless the
//! socket is paced by TCP itself (BBR on loopback, [`Pacing`]): then the receiver
//! copies faster from socket buffers a `write()` from a mapping just filled than from the
//! page-cache pages sendfile queued by reference, paced out by a timer: mmap moved 1.33–1.57×
//! sendfile's bytes from 256 KiB up, and from 64 KiB to 256 KiB a plain copy did (1.13–1.23×
//! sendfile). On unix sockets mmap leads from 1 MiB up. Below 64 KiB sendfile's fewer system
//! calls win everywhere. A server whose own core is the bottleneck asks for [`Goal::LeastCpu`]:
//! sendfile for every peer.

use std::net::IpAddr;
use std::os::fd::RawFd;

use nix::sys::socket::{getpeername, getsockname, AddressFamily, SockaddrLike, SockaddrStorage};

use crate::dest::{Dest, DestKind, Pacing};
use crate::method::Method;

/// From this length on, a paced TCP peer on this machine gets a copy...
const LOCAL_TCP_COPY_FROM: u64 = 64 * 1024;
/// ...and from this one on, mmap.
const LOCAL_TCP_MMAP_FROM: u64 = 256 * 1024;
/// From this length on, a unix-socket peer gets mmap (below it sendfile measured 3× faster).
const UNIX_MMAP_FROM: u64 = 1024 * 1024;

/// What `auto` optimises when the peer is on this machine (for a remote peer both mean sendfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// This transfer's throughput, as measured per peer, pacing and length (above).
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
    // Only now, for large files to sockets, is it worth a system call or three to ask.
    if goal == Goal::LeastCpu || dest.kind() != DestKind::Socket || length < LOCAL_TCP_COPY_FROM {
        return Method::Sendfile;
    }
    match dest.tcp_pacing() {
        // Any TCP peer, local or remote, without asking which: one system call.
        Some(Pacing::ByQdiscOrNone) => Method::Sendfile,
        Some(Pacing::ByTcp) if is_local_tcp_peer(dest.raw()) => {
            if length >= LOCAL_TCP_MMAP_FROM {
                Method::Mmap
            } else {
                Method::Copy
            }
        }
        Some(Pacing::ByTcp) => Method::Sendfile,
        None if length >= UNIX_MMAP_FROM && is_unix_socket(dest.raw()) => Method::Mmap,
        None => Method::Sendfile,
    }
}

fn is_unix_socket(fd: RawFd) -> bool {
    getsockname::<SockaddrStorage>(fd)
        .is_ok_and(|local| local.family() == Some(AddressFamily::Unix))
}

/// TCP/IP to a loopback address or to the address we are bound to.
fn is_local_tcp_peer(fd: RawFd) -> bool {
    let (Ok(local), Ok(peer)) = (
        getsockname::<SockaddrStorage>(fd),
        getpeername::<SockaddrStorage>(fd),
    ) else {
        return false;
    };
    match (ip_of(&local), ip_of(&peer)) {
        (Some(local), Some(peer)) => peer.is_loopback() || peer == local,
        _ => false,
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
