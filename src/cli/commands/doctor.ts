/** `sdxl-opt doctor`: what this machine can run, and how to get the CUDA provider when it does not load. */
import { runtimeEnvironment, type RuntimeEnvironment } from '../../runtime/index.js';
import type { Command } from '../command.js';

export const doctorCommand: Command = {
  command: 'doctor',
  describe: 'check ONNX Runtime: which providers load, the GPU, missing CUDA libraries',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the findings as JSON' }),
  async run(args) {
    const env = await runtimeEnvironment();
    process.stdout.write(args.json ? `${JSON.stringify(env, null, 2)}\n` : formatDoctor(env));
    return env.providers.cpu ? 0 : 1;
  },
};

export function formatDoctor(env: RuntimeEnvironment): string {
  const libs = env.cudaLibraries;
  const indent = (text: string): string => text.split('\n').map((l) => `    ${l}`).join('\n');
  const lines = [
    `onnxruntime-node ${env.ortVersion} on Node ${env.nodeVersion} (${env.platform})`,
    `GPU: ${env.gpu ? `${env.gpu.name}, driver ${env.gpu.driver}, ${env.gpu.memoryMiB} MiB` : 'none found (no nvidia-smi, or it failed)'}`,
    `CPU provider: ${env.providers.cpu ? 'loads and runs' : `FAILS\n${indent(env.providers.cpuError ?? '')}`}`,
    `CUDA provider: ${env.providers.cuda ? 'loads and runs' : `does not load\n${indent(env.providers.cudaError ?? '')}`}`,
    `CUDA provider library: ${libs.providerPresent ? 'present' : 'absent'} (${libs.binDir}/libonnxruntime_providers_cuda.so)`,
    `shared provider library: ${libs.sharedPresent ? 'present' : 'absent'}`,
  ];
  if (libs.providerPresent) {
    if (libs.lddError) lines.push(`ldd failed: ${libs.lddError}`);
    else if (libs.missing.length) lines.push(`libraries it needs and cannot find: ${libs.missing.join(', ')}`);
    else lines.push(`libraries it needs: all found (${libs.found.filter((f) => /cu|nv/i.test(f.name)).map((f) => f.name).join(', ') || 'none of CUDA'})`);
  }
  if (env.installHint) lines.push('', 'to run on CUDA:', indent(env.installHint));
  lines.push('', `default provider: ${env.providers.cuda ? 'cuda' : 'cpu'}`);
  return `${lines.join('\n')}\n`;
}
