/** Every CLI command, in the order --help lists them. */
import type { Command } from '../command.js';
import { applyCommand } from './apply.js';
import { benchCommand } from './bench.js';
import { doctorCommand } from './doctor.js';
import { inspectCommand } from './inspect.js';
import { passesCommand } from './passes.js';
import { tableCommand } from './table.js';
import { validateCommand } from './validate.js';

export const COMMANDS: readonly Command[] = [applyCommand, passesCommand, inspectCommand, validateCommand, benchCommand, tableCommand, doctorCommand];
