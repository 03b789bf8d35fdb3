/**
 * Taking the read side of a socket away from Node, so the native side can splice from it, and
 * giving it back.
 *
 * `socket.pause()` does not stop libuv reading: bytes keep arriving into the stream's buffer.
 * `_handle.readStop()` does. Node restarts reading from `_read()` whenever it believes the handle
 * is not reading (`_handle.reading`), so while the native side owns the socket that flag must
 * say "reading" — then a `resume()`, `read()` or the end of a connect cannot start libuv again
 * and steal bytes. Bytes Node had already read (its buffer, `unshift`ed chunks) are taken out,
 * in order, to be sent first.
 */
import type { Socket } from 'node:net';

interface ReadHandle {
  readStop?: () => number;
  reading?: boolean;
}

function handleOf(socket: Socket): ReadHandle | null {
  return (socket as unknown as { _handle?: ReadHandle | null })._handle ?? null;
}

export class TakenReading {
  private given = false;

  private constructor(
    private readonly socket: Socket,
    /** Bytes Node had already read from the socket, in order: they go to the peer first. */
    readonly buffered: Buffer,
  ) {}

  /** Stops Node's reading at once and takes what Node had buffered. Must run synchronously
   * when the transfer is called: any later and Node may read (and hand out) more bytes. */
  static take(socket: Socket): TakenReading {
    const handle = handleOf(socket);
    if (handle && typeof handle.readStop === 'function') {
      handle.readStop();
      handle.reading = true; // see the module comment: keeps Node's _read() from restarting it
    }
    return new TakenReading(socket, drain(socket));
  }

  /**
   * Nothing was relayed: put the buffered bytes back at the head of the stream and let Node read
   * again, as if the transfer had never been called.
   */
  restore(): void {
    if (this.given) return;
    this.given = true;
    if (this.socket.destroyed) return;
    if (this.buffered.length > 0) this.socket.unshift(this.buffered);
    this.resumeReading();
  }

  /**
   * The relay is over and the socket's peer has ended (the native side read its end): let Node
   * read again, so it meets that end itself and emits 'end' — the socket's state stays what Node
   * expects (with `allowHalfOpen: false`, Node then ends its write side, as it always does).
   */
  giveBack(): void {
    if (this.given) return;
    this.given = true;
    if (!this.socket.destroyed) this.resumeReading();
  }

  private resumeReading(): void {
    const handle = handleOf(this.socket);
    if (handle) handle.reading = false;
    // Not read(0): draining left the stream waiting on a _read() that our flag made a no-op
    // (`_readableState.reading`), so read() would not call it again. _read() itself sees
    // `reading` false and starts libuv (after the connect, for a socket still connecting).
    (this.socket as unknown as { _read(size: number): void })._read(this.socket.readableHighWaterMark);
  }
}

/** Everything Node has read and not handed out yet, including `unshift`ed chunks. */
function drain(socket: Socket): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = socket.read() as Buffer | string | null;
    if (chunk === null) break;
    // With setEncoding(), read() decodes: turn it back into the bytes it came from.
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, socket.readableEncoding ?? 'utf8') : chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}
