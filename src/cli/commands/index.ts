/** Every CLI command, in the order --help lists them. */
import type { Command } from '../command.js';
import { inspectCommand } from './inspect.js';

export const COMMANDS: readonly Command[] = [inspectCommand];
