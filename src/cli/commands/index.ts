/** Every CLI command, in the order --help lists them. */
import type { Command } from '../command.js';
import { applyCommand } from './apply.js';
import { passesCommand } from './passes.js';

export const COMMANDS: readonly Command[] = [applyCommand, passesCommand];
