/**
 * The command line's one rule for mistakes, in `zerosend` and every subcommand: an unknown
 * command or option, a bad value or a missing argument is one line on stderr that starts with
 * `zerosend:` and says where help is, exit code 2, no stack trace; `--help` and `--version`
 * exit 0. (Failures at run time exit 1: each command's own spec checks those.)
 */
import test from 'ava';

import { CliProcess, ensureBuilt } from './helpers/cli-process';

test.before(async () => {
  await ensureBuilt();
});

const MISTAKES: Array<{ args: string[]; says: RegExp; help: string }> = [
  { args: ['teleport'], says: /unknown command 'teleport'/, help: 'zerosend --help' },
  { args: ['--bogus'], says: /unknown option '--bogus'/, help: 'zerosend --help' },
  { args: ['serve', '--bogus'], says: /unknown option '--bogus'/, help: 'zerosend serve --help' },
  { args: ['serve', '.', '--port', '70000'], says: /--port must be an integer from 0 to 65535/, help: 'zerosend serve --help' },
  { args: ['send', 'file.bin'], says: /missing required argument 'host:port'/, help: 'zerosend send --help' },
  { args: ['send', 'file.bin', '127.0.0.1:9', '--method', 'teleport'], says: /--method.*'teleport'.*Allowed choices/, help: 'zerosend send --help' },
  { args: ['proxy', '--listen', '8080'], says: /required option '-t, --to <host:port>' not specified/, help: 'zerosend proxy --help' },
  { args: ['proxy', '--listen', '8080', '--to', 'nowhere'], says: /expected HOST:PORT/, help: 'zerosend proxy --help' },
];

for (const { args, says, help } of MISTAKES) {
  test(`zerosend ${args.join(' ')}: one line, exit code 2`, async (t) => {
    const cli = new CliProcess(args);
    const { code } = await cli.exited;
    t.is(code, 2, cli.stderr);
    t.is(cli.stdout, '');
    const lines = cli.stderr.trimEnd().split('\n');
    t.is(lines.length, 1, cli.stderr);
    t.regex(lines[0]!, /^zerosend: /);
    t.regex(lines[0]!, says);
    t.true(lines[0]!.endsWith(`(see ${help})`), lines[0]);
  });
}

for (const args of [['--help'], ['--version'], ['serve', '--help'], ['send', '--help'], ['proxy', '--help']]) {
  test(`zerosend ${args.join(' ')}: exit code 0, on stdout`, async (t) => {
    const cli = new CliProcess(args);
    t.is((await cli.exited).code, 0, cli.stderr);
    t.is(cli.stderr, '');
    t.not(cli.stdout, '');
  });
}
