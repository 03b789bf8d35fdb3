/**
 * Command-line mistakes, answered the same way by `zerosend` and every subcommand: one line on
 * stderr naming the fix and where help is, and exit code 2 — never a stack trace. Exit code 1 is
 * left for what went wrong at run time (a port in use, a refused connection, a missing file).
 */
import type { Command, CommanderError } from 'commander';

/** The exit code of a usage error, as getopt, commander's users and most shells use it. */
export const USAGE_EXIT_CODE = 2;

/**
 * Makes `command` report commander's parse errors (unknown option, bad value, missing argument)
 * as one line and exit 2; `--help` and `--version` still exit 0. Commander does not pass these
 * settings to commands added with `addCommand()`, so each command calls this for itself.
 */
export function reportUsageErrors(command: Command): Command {
  // Read when the error happens: a subcommand has no parent yet when this runs.
  const help = (): string => (command.parent ? `zerosend ${command.name()} --help` : 'zerosend --help');
  return command
    .exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .configureOutput({ outputError: (text, write) => write(`zerosend: ${text.trim().replace(/^error: /, '')} (see ${help()})\n`) });
}
