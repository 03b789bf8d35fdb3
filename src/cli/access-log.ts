/** The access log of `zerosend serve`. */
import type * as http from 'node:http';

import type { ServedInfo } from '../http/file-response';

/**
 * One line per request: time, client, method, path, status, body bytes, milliseconds, and what
 * sent the body (sendfile, splice, mmap, copy, stream, or none). Lines are written once per
 * event-loop turn, not once per request: stdout to a pipe or file is a synchronous write.
 */
export class AccessLog {
  private lines: string[] = [];
  private scheduled = false;

  write(req: http.IncomingMessage, info: ServedInfo, start: bigint | undefined): void {
    const ms = start === undefined ? 0 : Number(process.hrtime.bigint() - start) / 1e6;
    const error = info.error === undefined ? '' : ` ${info.error}`;
    this.lines.push(
      `${new Date().toISOString()} ${req.socket.remoteAddress ?? '-'} ${req.method} ${req.url} ` +
        `${info.status} ${info.bytes} ${ms.toFixed(1)}ms ${info.method}${error}\n`,
    );
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    process.stdout.write(this.lines.join(''));
    this.lines = [];
  }
}
