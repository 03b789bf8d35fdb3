//! The sizes that bound one system call and one step, and the arithmetic on them.

use crate::method::Method;

/// Linux transfers at most this many bytes in one `read`/`write`/`sendfile`/`splice` call
/// (`MAX_RW_COUNT`), whatever the caller asks; asking for more only invites a short count.
pub const MAX_SYSCALL_BYTES: u64 = 0x7fff_f000;

/// One step moves at most this much before the driver yields, so that one fast client cannot
/// monopolise a runtime thread (nginx uses the same 2 MiB limit per event-loop turn).
pub const STEP_BYTES: u64 = 2 * 1024 * 1024;

/// The first step runs on the caller's thread (the JS thread, for Node) to save a thread hop: a
/// transfer it finishes needs neither a runtime thread nor a wake-up of the JS thread. What is
/// left after it goes to a runtime thread, which costs a hop (75–120 µs of CPU on this VM: a
/// wake of a tokio worker, then of the JS thread) but keeps long transfers off the JS thread.
/// How far the first step should go was measured per engine and per pacing (`bench/transfer.mjs`
/// and `bench/http.mjs` at 1 MiB, a 256 KiB and a 1 MiB first step side by side, two to five
/// runs each; `--cc=cubic` for sockets TCP does not pace):
///
/// - 1 MiB for mmap and copy, where the sender copies the bytes and is the bottleneck. A 1 MiB
///   file then needs no hop: `transfer()` by mmap went from 0.71–0.83× its raw loop to
///   0.93–1.03×, copy from 1.27× to 1.63×, and a static server by mmap from 1.99–2.15 to
///   2.76–2.77 GB/s at 0.39 instead of 0.50–0.54 server CPU-s/GiB (BBR).
/// - 1 MiB for sendfile and splice too, unless TCP paces the socket itself: with CUBIC a 1 MiB
///   sendfile costs the raw loop only 63–80 µs, so the hop was most of a transfer's cost
///   (`transfer()` at 1 MiB: sendfile 0.52–0.66 → 0.82–0.83× its raw loop, splice 0.69 →
///   0.84–0.91×).
/// - 256 KiB for sendfile and splice on a socket TCP paces (BBR, see `dest::Pacing`): with 1 MiB
///   the static server, which sends by sendfile, served half as much (1 MiB files: 1.70–2.32
///   against 2.66–4.21 GB/s in five paired runs, at 0.44–0.59 instead of 0.25–0.39 server
///   CPU-s/GiB), and `transfer()` by sendfile was no faster (0.86–0.97× against 0.96–1.05× its
///   raw loop). perf puts the extra server CPU in `tcp_write_xmit` and softirqs inside the
///   longer sendfile calls: the pacing timer's work.
///
/// What it holds the JS thread (`bench/first-step.mjs`: 1 MiB files, medians): mmap 0.26 ms warm
/// and 1.5 ms cold with 256 KiB, 0.36–0.46 ms and 1.7–2.0 ms with 1 MiB; a cold first step reads
/// from disk, and readahead makes 4× the bytes cost only a third more.
pub fn first_step_bytes(method: Method, paced_by_tcp: impl FnOnce() -> bool) -> u64 {
    let queues_page_references = matches!(method, Method::Sendfile | Method::Splice);
    if queues_page_references && paced_by_tcp() {
        SHORT_FIRST_STEP_BYTES
    } else {
        FIRST_STEP_BYTES
    }
}

/// The first step, but for sendfile and splice on a socket TCP paces itself...
const FIRST_STEP_BYTES: u64 = 1024 * 1024;
/// ...where it is this.
pub const SHORT_FIRST_STEP_BYTES: u64 = 256 * 1024;

/// How many bytes one call may ask for: what is left, what is left of this step, and the kernel's
/// per-call ceiling, whichever is smallest.
pub fn call_len(remaining: u64, step_left: u64, per_call_cap: u64) -> usize {
    let len = remaining
        .min(step_left)
        .min(per_call_cap)
        .min(MAX_SYSCALL_BYTES);
    // `MAX_SYSCALL_BYTES` fits in usize on every platform we build for, so this cannot truncate.
    len as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_len_never_exceeds_the_kernel_limit() {
        assert_eq!(
            call_len(5 << 30, u64::MAX, u64::MAX),
            MAX_SYSCALL_BYTES as usize
        );
        assert_eq!(
            call_len(1 << 32, 1 << 33, 1 << 34),
            MAX_SYSCALL_BYTES as usize
        );
        assert_eq!(call_len(7, STEP_BYTES, u64::MAX), 7);
        assert_eq!(call_len(u64::MAX, 3, u64::MAX), 3);
        assert_eq!(call_len(u64::MAX, u64::MAX, 65536), 65536);
        assert_eq!(call_len(0, 10, 10), 0);
    }
}
