// The shared test waits: a value ends the wait, a bound names what was awaited, a thrown error ends
// it at once, and a child's lines arrive whole and in order.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readLines } from '../../support/lines.ts';
import { settledWithin, waitFor, WaitTimeoutError, within } from '../../support/wait.ts';

describe('waitFor', () => {
  it('returns the first value that is neither undefined nor false', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls < 3 ? undefined : { calls }), {
      what: 'the third call',
      timeoutMs: 30_000,
      everyMs: 1,
    });
    expect(value).toEqual({ calls: 3 });
    expect(await waitFor(() => 0, { what: 'zero', timeoutMs: 30_000 })).toBe(0);
  });

  it('fails after its bound with an error naming what it waited for and the detail', async () => {
    const err = await waitFor(() => false, {
      what: 'a state that never comes',
      timeoutMs: 20,
      everyMs: 1,
      detail: () => 'last status: none',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(String(err)).toContain('waiting for a state that never comes; last status: none');
  });

  it('ends at once with the error a check throws', async () => {
    let calls = 0;
    const failing = waitFor(
      () => {
        calls++;
        throw new Error('child exited early');
      },
      { what: 'never', timeoutMs: 30_000 },
    );
    await expect(failing).rejects.toThrow('child exited early');
    expect(calls).toBe(1);
  });
});

describe('within and settledWithin', () => {
  it('pass a settled value through and name or replace one that never settles', async () => {
    expect(await within(Promise.resolve(7), { what: 'seven', timeoutMs: 30_000 })).toBe(7);
    await expect(within(new Promise(() => {}), { what: 'the exit', timeoutMs: 10 })).rejects.toThrow(
      'waiting for the exit',
    );
    expect(await settledWithin(new Promise(() => {}), 10, 'hung')).toBe('hung');
    expect(await settledWithin(Promise.resolve({ code: 0 }), 30_000, 'hung')).toEqual({ code: 0 });
  });
});

describe('readLines', () => {
  it("gives a child's lines whole and in order, and says when its output ended first", async () => {
    const proc = spawn(
      process.execPath,
      ['-e', "process.stdout.write('{\"a\":'); setImmediate(() => process.stdout.write('1}\\nsecond\\n'))"],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = readLines(proc);
    expect(JSON.parse(await lines.next({ what: 'the first line', timeoutMs: 30_000 }))).toEqual({ a: 1 });
    expect(await lines.next({ what: 'the second line', timeoutMs: 30_000 })).toBe('second');
    await expect(lines.next({ what: 'a third line', timeoutMs: 30_000 })).rejects.toThrow(
      "the child's output ended before a third line",
    );
  });
});
