/**
 * Child process for fault-injection-static.spec.ts, started with the shim in LD_PRELOAD. Serves a
 * folder of random files with createStaticServer() and, for each case in the JSON file `argv[2]`,
 * makes its requests over keep-alive connections under the case's fault plan. Every body is
 * checked byte for byte against the file range it must be. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { createStaticServer, type ServedInfo } from '../../src';
import { tempDir } from '../helpers/net';
import { Control, NO_FAULTS, statsDelta, type Plan, type Stats } from './control';

export interface StaticRequest {
  file: string;
  range?: string;
}

export interface StaticCase {
  name: string;
  plan: Plan;
  requests: StaticRequest[];
}

export interface StaticResponse {
  file: string;
  range?: string;
  status: number;
  /** The body as received matched the file range it stands for, byte for byte, so far. */
  intact: boolean;
  /** Every byte the headers promised arrived. */
  complete: boolean;
  received: number;
  expected: number;
  /** The response was cut off (connection closed mid-body). */
  aborted: boolean;
}

export interface StaticCaseResult {
  name: string;
  responses: StaticResponse[];
  /** What the server reported for each request (onServed). */
  served: Pick<ServedInfo, 'status' | 'bytes' | 'method' | 'error'>[];
  stats: Stats;
}

export const FILES: Record<string, number> = { 'empty.bin': 0, 'one.bin': 1, 'small.bin': 100_003, 'big.bin': 3 * 1024 * 1024 + 17 };

function request(port: number, agent: http.Agent, req: StaticRequest, data: Buffer): Promise<StaticResponse> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (req.range) headers.range = req.range;
    const r = http.get({ host: '127.0.0.1', port, path: `/${req.file}`, headers, agent }, (res) => {
      let expected = data;
      const m = /^bytes (\d+)-(\d+)\/\d+$/.exec(res.headers['content-range'] ?? '');
      if (res.statusCode === 206 && m) expected = data.subarray(Number(m[1]), Number(m[2]) + 1);
      if (res.statusCode !== 200 && res.statusCode !== 206) expected = Buffer.alloc(0);
      let received = 0;
      let intact = true;
      let aborted = false;
      res.on('data', (chunk: Buffer) => {
        if (intact && !chunk.equals(expected.subarray(received, received + chunk.length))) intact = false;
        received += chunk.length;
      });
      res.on('aborted', () => (aborted = true));
      const done = () =>
        resolve({
          file: req.file,
          range: req.range,
          status: res.statusCode ?? 0,
          intact,
          complete: !aborted && received === expected.length && Number(res.headers['content-length'] ?? received) === received,
          received,
          expected: expected.length,
          aborted,
        });
      res.on('end', done);
      res.on('error', () => {
        aborted = true;
        done();
      });
    });
    r.on('error', () =>
      resolve({ file: req.file, range: req.range, status: 0, intact: true, complete: false, received: 0, expected: 0, aborted: true }),
    );
  });
}

async function main(): Promise<void> {
  const cases = JSON.parse(readFileSync(process.argv[2], 'utf8')) as StaticCase[];
  const controlPath = process.env.ZEROSEND_FAULT_CONTROL;
  if (!controlPath) throw new Error('ZEROSEND_FAULT_CONTROL is not set');
  const control = new Control(controlPath);
  const root = tempDir('zs-fault-static-');
  const contents: Record<string, Buffer> = {};
  for (const [name, size] of Object.entries(FILES)) {
    contents[name] = randomBytes(size);
    writeFileSync(join(root, name), contents[name]);
  }
  let served: StaticCaseResult['served'] = [];
  const server = createStaticServer(root, {
    onServed: (_req, _res, info) => served.push({ status: info.status, bytes: info.bytes, method: info.method, error: info.error }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const results: StaticCaseResult[] = [];
  for (const c of cases) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    served = [];
    const before = control.stats();
    control.setPlan(c.plan);
    const responses = await Promise.all(c.requests.map((r) => request(port, agent, r, contents[r.file])));
    control.setPlan(NO_FAULTS);
    // The server's report of the last response may follow the client's end by a tick.
    await new Promise((resolve) => setTimeout(resolve, 50));
    results.push({ name: c.name, responses, served, stats: statsDelta(before, control.stats()) });
    agent.destroy();
  }
  server.close();
  process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`fixture failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(2);
});
