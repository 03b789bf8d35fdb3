#!/usr/bin/env node
/** The `zerosend` command. Each subcommand lives in its own file under `cli/`. */
import { Command } from 'commander';

import { reportUsageErrors } from './usage';

const program = reportUsageErrors(
  new Command('zerosend')
    .description('Zero-copy file serving, sending and proxying for Node.js (sendfile, splice, mmap).')
    .version((require('../../package.json') as { version: string }).version),
);

// Subcommands register themselves here, one line each.
program.addCommand((require('./proxy') as typeof import('./proxy')).proxyCommand());
program.addCommand((require('./serve') as typeof import('./serve')).serveCommand());
program.addCommand((require('./send') as typeof import('./send')).sendCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`zerosend: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
