/** The machine a benchmark ran on, for BENCHMARKS.md. */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

export interface MachineInfo {
  nproc: number;
  cpu: string;
  memoryGiB: string;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: leave the model unknown.
  }
  return {
    nproc: availableParallelism(),
    cpu,
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
