//! The sizes that bound one system call and one step, and the arithmetic on them.

/// Linux transfers at most this many bytes in one `read`/`write`/`sendfile`/`splice` call
/// (`MAX_RW_COUNT`), whatever the caller asks; asking for more only invites a short count.
pub const MAX_SYSCALL_BYTES: u64 = 0x7fff_f000;

/// One step moves at most this much before the driver yields, so that one fast client cannot
/// monopolise a runtime thread (nginx uses the same 2 MiB limit per event-loop turn).
pub const STEP_BYTES: u64 = 2 * 1024 * 1024;

/// The first step runs on the caller's thread (the JS thread, for Node) to save a thread hop for
/// small files; it is kept short because a cold page cache makes the kernel read from disk here.
/// 256 KiB holds the JS thread ≤ 0.13 ms warm, 0.6 ms cold (2 MiB: 0.57 ms, 3.6 ms). A 1 MiB
/// transfer then takes one thread hop (~100 µs of CPU: mmap at 1 MiB runs at 0.8× its raw loop,
/// 1.03× with a 1 MiB first step), but a 1 MiB first step halved the static server's throughput
/// for 1 MiB files under load (bench/http.mjs: 3.11 → 1.46 GB/s), so 256 KiB it is.
pub const FIRST_STEP_BYTES: u64 = 256 * 1024;

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
