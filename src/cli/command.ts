/** A CLI command: its yargs declaration and a handler that returns the exit code. */
import type { Argv } from 'yargs';

export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<any>;
  run(args: Record<string, unknown>): Promise<number | void>;
}
