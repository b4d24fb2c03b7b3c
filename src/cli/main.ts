#!/usr/bin/env node
/**
 * The command line: parses arguments, calls the library, prints. Errors of the project's own type print as one
 * line and exit 2 (validation failures exit 1); anything else is a bug and prints its stack.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isSdxlOptError } from '../errors.js';
import { COMMANDS } from './commands/index.js';
import { installSignalCleanup } from './signals.js';

export async function main(argv: string[]): Promise<number> {
  installSignalCleanup();
  let exitCode = 0;
  let cli: Argv = yargs(argv)
    .scriptName('sdxl-opt')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    });
  for (const command of COMMANDS) {
    cli = cli.command({
      command: command.command,
      describe: command.describe,
      builder: command.builder,
      handler: async (args) => {
        exitCode = (await command.run(args)) ?? 0;
      },
    });
  }
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\nrun 'sdxl-opt --help' for usage\n`);
      return 2;
    }
    if (isSdxlOptError(e)) {
      process.stderr.write(`${e.oneLine()}\n`);
      return e.code === 'VALIDATION_FAILED' ? 1 : 2;
    }
    process.stderr.write(`internal error (a bug in sdxl-opt; please report it):\n${e instanceof Error ? e.stack : String(e)}\n`);
    return 70;
  }
  return exitCode;
}

class UsageError extends Error {}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error: ${String(e)}\n`);
    process.exitCode = 70;
  },
);
