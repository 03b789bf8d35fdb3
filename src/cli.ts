#!/usr/bin/env node
/** The `zerosend` command. Each subcommand lives in its own file under `cli/`. */
import { Command } from 'commander';

const program = new Command('zerosend')
  .description('Zero-copy file serving, sending and proxying for Node.js (sendfile, splice, mmap).')
  .version((require('../package.json') as { version: string }).version)
  .showHelpAfterError();

// Subcommands register themselves here, one line each.
program.addCommand((require('./cli/proxy') as typeof import('./cli/proxy')).proxyCommand());
program.addCommand((require('./cli/serve') as typeof import('./cli/serve')).serveCommand());
program.addCommand((require('./cli/send') as typeof import('./cli/send')).sendCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`zerosend: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
