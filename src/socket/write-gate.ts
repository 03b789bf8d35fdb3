/**
 * Byte order on a socket (or any writable stream) shared between the caller and a transfer.
 *
 * Writes queued before `transfer()` was called must reach the peer first; writes made while it
 * runs must come after. `cork()` cannot do both (it holds the earlier writes too, and `end()`
 * uncorks), so while a stream has transfers, its `write()` and `end()` are held. Transfers on one
 * stream run one after another, in call order, and held writes keep their place among them: a
 * write made between two `transfer()` calls is passed on when the first transfer ends, before the
 * second starts. What is still held when the last transfer ends (and a held `end()`) follows then.
 */
import type { Writable } from 'node:stream';

import { AbortError, socketClosed } from '../errors';

interface HeldWrite {
  args: unknown[];
}

type WriteFn = (...args: unknown[]) => boolean;
type EndFn = (...args: unknown[]) => Writable;

class Gate {
  private readonly held: HeldWrite[] = [];
  /** How many of `held` have been passed on to the stream. */
  private passed = 0;
  private heldEnd: unknown[] | undefined;
  private heldBytes = 0;
  private owedDrain = false;
  private users = 0;
  /** Settles when the latest transfer to enter has left: the next one waits for it. */
  private tail: Promise<void> = Promise.resolve();
  private readonly hadOwnWrite: boolean;
  private readonly hadOwnEnd: boolean;
  /** The stream's own `write()`, for the transfer that holds the gate. */
  readonly write: WriteFn;
  private readonly end: EndFn;

  constructor(private readonly socket: Writable) {
    const target = socket as unknown as { write: WriteFn; end: EndFn };
    this.hadOwnWrite = Object.prototype.hasOwnProperty.call(socket, 'write');
    this.hadOwnEnd = Object.prototype.hasOwnProperty.call(socket, 'end');
    this.write = target.write;
    this.end = target.end;
    target.write = (...args: unknown[]): boolean => {
      if (this.heldEnd) return this.write.apply(socket, args); // Node reports write-after-end
      this.held.push({ args });
      this.heldBytes += byteLength(args[0]);
      if (this.heldBytes < socket.writableHighWaterMark) return true;
      this.owedDrain = true;
      return false;
    };
    target.end = (...args: unknown[]): Writable => {
      this.heldEnd ??= args;
      return socket;
    };
  }

  /**
   * Takes the next place in line: `turn` settles when the transfers that entered before have
   * left and the writes held until now were passed on; `leave` lets the next one in.
   */
  enter(): { turn: Promise<void>; leave: () => void } {
    this.users += 1;
    const heldBefore = this.held.length;
    const turn = this.tail.then(() => this.passOn(heldBefore));
    let next!: () => void;
    this.tail = new Promise<void>((resolve) => {
      next = resolve;
    });
    const leave = (): void => {
      this.users -= 1;
      if (this.users === 0) this.open();
      next();
    };
    return { turn, leave };
  }

  /** Passes the held writes up to `count` on to the stream, in order. */
  private passOn(count: number): void {
    for (; this.passed < count; this.passed++) {
      const { args } = this.held[this.passed]!;
      this.heldBytes -= byteLength(args[0]);
      this.write.apply(this.socket, args);
    }
  }

  /** The last transfer left: give write()/end() back and pass on what is still held, in order. */
  private open(): void {
    gates.delete(this.socket);
    const target = this.socket as unknown as Record<string, unknown>;
    // Undo in reverse order of adding: V8 then rolls the object's shape back instead of turning
    // the socket into a slow dictionary-mode object.
    if (this.hadOwnEnd) target.end = this.end;
    else delete target.end;
    if (this.hadOwnWrite) target.write = this.write;
    else delete target.write;
    this.passOn(this.held.length);
    if (this.heldEnd) this.end.apply(this.socket, this.heldEnd);
    else if (this.owedDrain && !this.socket.writableNeedDrain) this.socket.emit('drain');
  }
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

const gates = new WeakMap<Writable, Gate>();

const EMPTY = Buffer.alloc(0);

export interface Claim {
  /** Lets held writes go and the next transfer in. Call exactly once, when the transfer ends. */
  release(): void;
  /** Writes for the transfer itself, past the hold. */
  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean;
}

/**
 * Claims the stream for one transfer. Must be called synchronously from `transfer()`, so that
 * the line between "before" and "during" is the call itself. Resolves once earlier transfers on
 * the stream are done and everything written before the call reached the kernel.
 */
export async function claim(socket: Writable, signal: AbortSignal | undefined): Promise<Claim> {
  let gate = gates.get(socket);
  if (!gate) {
    gate = new Gate(socket);
    gates.set(socket, gate);
  }
  const { turn, leave: release } = gate.enter();
  try {
    await turn;
    // Queued behind every earlier write (the stream's own write, past the hold): when its
    // callback runs, they have all reached the kernel.
    if (socket.writableLength > 0 || (socket as { connecting?: boolean }).connecting === true) {
      await whileOpen(socket, signal, barrier(gate.write, socket));
    }
    if (signal?.aborted) throw new AbortError(0, signal.reason);
    if (socket.destroyed) throw socketClosed(0);
    return claimOf(socket, gate, release);
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Whether a transfer could write to the stream right now without passing anything: no transfer
 * holds it and every byte written before has reached the kernel. A transfer that starts writing
 * in the same synchronous call, and then `claimIdle()`s the stream if it must go on, keeps
 * the byte order without waiting for a turn.
 */
export function isIdle(socket: Writable): boolean {
  return socket.writableLength === 0 && (socket as { connecting?: boolean }).connecting !== true && !gates.has(socket);
}

/** Claims a stream `isIdle()` reported idle in the same synchronous call: at once, no waiting. */
export function claimIdle(socket: Writable): Claim {
  const gate = new Gate(socket);
  gates.set(socket, gate);
  return claimOf(socket, gate, gate.enter().leave);
}

function claimOf(socket: Writable, gate: Gate, release: () => void): Claim {
  const { write } = gate;
  return { release, write: (chunk, callback) => write.call(socket, chunk, callback) };
}

function barrier(write: WriteFn, socket: Writable): Promise<void> {
  return new Promise<void>((resolve) => write.call(socket, EMPTY, () => resolve()));
}

/** Awaits `work`, but rejects as soon as the socket closes or the signal aborts. */
function whileOpen(socket: Writable, signal: AbortSignal | undefined, work: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onClose = (): void => finish(socketClosed(0));
    const onAbort = (): void => finish(new AbortError(0, signal?.reason));
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(() => finish());
  });
}
