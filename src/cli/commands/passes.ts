/** `sdxl-opt passes`: every registered pass, with its description and params (type, default). */
import type { Argv } from 'yargs';
import { PASSES } from '../../../passes/index.js';
import type { PassDefinition } from '../../engine/pass.js';
import { describeSchema } from '../../recipe/params.js';
import type { Command } from '../command.js';

export const passesCommand: Command = {
  command: 'passes',
  describe: 'list the passes a recipe can name, with their params',
  builder: (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'print the list as JSON' }),
  async run(args) {
    process.stdout.write(args.json === true ? `${JSON.stringify(PASSES.map(passJson), null, 2)}\n` : PASSES.map(passText).join('\n') || 'no passes are registered\n');
  },
};

type Spec = Parameters<typeof describeSchema>[0] & { description: string; default: unknown };

function params(pass: PassDefinition<any>): [string, Spec][] {
  return Object.entries(pass.params as Record<string, Spec>);
}

export function passJson(pass: PassDefinition<any>): object {
  return {
    name: pass.name,
    description: pass.description,
    ...(pass.after?.length ? { after: pass.after } : {}),
    params: Object.fromEntries(params(pass).map(([name, spec]) => [name, { accepts: describeSchema(spec), ...spec }])),
  };
}

function passText(pass: PassDefinition<any>): string {
  const lines = [`${pass.name}`, `  ${pass.description}`];
  if (pass.after?.length) lines.push(`  runs after: ${pass.after.join(', ')}`);
  for (const [name, spec] of params(pass)) {
    lines.push(`  ${name}: ${describeSchema(spec)} (default ${JSON.stringify(spec.default)})`, `      ${spec.description}`);
  }
  return `${lines.join('\n')}\n`;
}
