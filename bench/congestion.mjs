// TCP congestion control for the benchmarks. `--cc=NAME` (e.g. `--cc=cubic`) re-runs the
// benchmark with bench/congestion-shim.c preloaded into it and every process it starts, so that
// all its TCP sockets use NAME; without it they use the system default. Which one is in effect
// matters on loopback: BBR paces with a timer of its own there, which made sendfile the slowest
// method on our VM, while with CUBIC, Linux's usual default, it is the fastest.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The congestion control new TCP sockets of this benchmark get. */
export function congestionControl() {
  if (process.env.ZEROSEND_BENCH_CC) return process.env.ZEROSEND_BENCH_CC;
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * With `--cc=NAME`, runs this same benchmark again with the shim preloaded and exits with its
 * status; returns only when there is nothing to do (no `--cc`, or already running under it).
 */
export function applyCongestionFlag(flags) {
  const wanted = flags.cc;
  if (!wanted || process.env.ZEROSEND_BENCH_CC === wanted) return;
  const available = fs.readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').split(/\s+/);
  if (!available.includes(wanted)) {
    throw new Error(`--cc=${wanted}: this kernel offers ${available.filter(Boolean).join(', ')}`);
  }
  const shim = path.join(os.tmpdir(), `zerosend-congestion-shim-${process.getuid?.() ?? 0}.so`);
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, path.join(here, 'congestion-shim.c'), '-ldl'], {
    stdio: 'inherit',
  });
  const preload = [shim, process.env.LD_PRELOAD].filter(Boolean).join(':');
  const run = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, LD_PRELOAD: preload, ZEROSEND_BENCH_CC: wanted },
  });
  process.exit(run.status ?? 1);
}
