/** Every CLI command, in the order --help lists them. */
import type { Command } from '../command.js';
import { synthCommand } from './synth.js';

export const COMMANDS: readonly Command[] = [synthCommand];
