// The final log lines before a fatal exit reach stdout (journald), even after a large burst that a
// pipe cannot absorb at once.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const child = join(import.meta.dirname, '..', '..', 'fixtures', 'ops', 'fatal-child.ts');

function run(mode: 'throw' | 'exit'): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Read slowly at first so the pipe fills and an asynchronous logger would lose its tail.
    proc.stdout.pause();
    setTimeout(() => proc.stdout.resume(), 200);
    proc.on('close', (code) => resolve({ code, lines: out.trim().split('\n') }));
  });
}

describe('logging survives a fatal exit', () => {
  for (const mode of ['throw', 'exit'] as const) {
    it(`keeps every line up to the last one (${mode})`, async () => {
      const { code, lines } = await run(mode);
      expect(code).toBe(1);
      expect(lines).toHaveLength(2001);
      const last = JSON.parse(lines.at(-1) as string) as { level: number; msg: string; code: string };
      expect(last.msg).toBe('last words before exit');
      expect(last.level).toBe(60);
      expect(last.code).toBe(mode === 'throw' ? 'RIGCAP_INTERNAL' : 'RIGCAP_DISK_FULL');
    });
  }
});
