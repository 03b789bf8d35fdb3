/**
 * Byte order on a socket (or any writable stream) shared between the caller and a transfer.
 *
 * Writes queued before `transfer()` was called must reach the peer first; writes made while it
 * runs must come after. `cork()` cannot do both (it holds the earlier writes too, and `end()`
 * uncorks), so while a stream has transfers, its `write()` and `end()` are held: calls are
 * queued and replayed, in order, when the last transfer on it finishes. Transfers on one stream
 * run one after another, in call order.
 */
import type { Writable } from 'node:stream';

import { AbortError, socketClosed } from './errors';

interface HeldWrite {
  args: unknown[];
}

type WriteFn = (...args: unknown[]) => boolean;
type EndFn = (...args: unknown[]) => Writable;

class Gate {
  private readonly held: HeldWrite[] = [];
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

  /** Waits for the transfers that entered before; returns the function that lets the next in. */
  async enter(): Promise<() => void> {
    this.users += 1;
    const previous = this.tail;
    let leave!: () => void;
    this.tail = new Promise<void>((resolve) => {
      leave = resolve;
    });
    await previous;
    return () => {
      this.users -= 1;
      if (this.users === 0) this.open();
      leave();
    };
  }

  /** The last transfer left: give write()/end() back and replay what was held, in order. */
  private open(): void {
    gates.delete(this.socket);
    const target = this.socket as unknown as Record<string, unknown>;
    // Undo in reverse order of adding: V8 then rolls the object's shape back instead of turning
    // the socket into a slow dictionary-mode object.
    if (this.hadOwnEnd) target.end = this.end;
    else delete target.end;
    if (this.hadOwnWrite) target.write = this.write;
    else delete target.write;
    for (const { args } of this.held) this.write.apply(this.socket, args);
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
 * the stream are done and everything queued before the call reached the kernel.
 */
export async function claim(socket: Writable, signal: AbortSignal | undefined): Promise<Claim> {
  // Queued before the gate closes, behind every earlier write: when its callback runs, they
  // have all reached the kernel.
  const connecting = (socket as { connecting?: boolean }).connecting === true;
  const flushed = socket.writableLength > 0 || connecting ? barrier(socket) : undefined;
  let gate = gates.get(socket);
  if (!gate) {
    gate = new Gate(socket);
    gates.set(socket, gate);
  }
  const release = await gate.enter();
  try {
    if (flushed) await whileOpen(socket, signal, flushed);
    if (signal?.aborted) throw new AbortError(0, signal.reason);
    if (socket.destroyed) throw socketClosed(0);
    const { write } = gate;
    return { release, write: (chunk, callback) => write.call(socket, chunk, callback) };
  } catch (error) {
    release();
    throw error;
  }
}

function barrier(socket: Writable): Promise<void> {
  return new Promise<void>((resolve) => socket.write(EMPTY, () => resolve()));
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
