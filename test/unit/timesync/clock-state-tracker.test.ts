import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { parseChronyTracking } from '../../../agent/timesync/chrony-parse.ts';
import { classifyChrony, classifyPtp } from '../../../agent/timesync/clock-classifier.ts';
import { ClockStateTracker, type SampleClocks } from '../../../agent/timesync/clock-state-tracker.ts';
import type { CommandOutput, CommandRunner } from '../../../agent/timesync/command-runner.ts';
import { createClockStateTracker } from '../../../agent/timesync/from-config.ts';
import { parsePmcResponses } from '../../../agent/timesync/pmc-parse.ts';
import { ChronyTrackingProbe, PtpStatusProbe } from '../../../agent/timesync/probes.ts';
import { timesyncFromMetadata, timesyncMetadata } from '../../../agent/timesync/timesync-summary.ts';
import { RigcapError } from '../../../agent/errors.ts';

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, '../../fixtures/timesync', name), 'utf8');
const s = (sec: number): bigint => BigInt(Math.round(sec * 1000)) * 1_000_000n;

/** Serves captured outputs in turn; an Error entry makes that run fail like a missing command. */
class ScriptedRunner implements CommandRunner {
  readonly calls: string[][] = [];
  readonly #outputs: Array<string | Error>;
  constructor(outputs: Array<string | Error>) {
    this.#outputs = outputs;
  }
  async run(file: string, args: readonly string[]): Promise<CommandOutput> {
    this.calls.push([file, ...args]);
    const next = this.#outputs.length > 1 ? this.#outputs.shift() : this.#outputs[0];
    if (next === undefined || next instanceof Error) throw next ?? new Error('no output');
    return { stdout: next, stderr: '' };
  }
}

/** Wall and monotonic clocks the test moves by hand. */
class ManualClocks implements SampleClocks {
  wall: bigint;
  mono = 1_000_000_000n;
  constructor(wall: bigint) {
    this.wall = wall;
  }
  advance(ns: bigint): void {
    this.wall += ns;
    this.mono += ns;
  }
  wallNs(): bigint {
    return this.wall;
  }
  monoNs(): bigint {
    return this.mono;
  }
}

const chronyOpts = { lockedMaxOffsetNs: 1_000_000n, staleUpdateFactor: 8, minStaleNs: s(10) };

describe('classification rules', () => {
  it('chrony: not synchronised → unsynced; fresh update → locked; stale update → holdover; local reference → holdover', () => {
    const locked = parseChronyTracking(fixture('chrony-tracking-locked.csv'));
    expect(classifyChrony(locked, { ...chronyOpts, wallNs: locked.refTimeNs + s(1) }).state).toBe('locked');
    expect(
      classifyChrony(parseChronyTracking(fixture('chrony-tracking-unsynced.csv')), {
        ...chronyOpts,
        wallNs: s(1),
      }).state,
    ).toBe('unsynced');
    // captured 13.5 s after chronyd's only server went away (update interval 1 s)
    const stale = parseChronyTracking(fixture('chrony-tracking-holdover.csv'));
    const held = classifyChrony(stale, { ...chronyOpts, wallNs: 1795638685640031770n });
    expect(held.state).toBe('holdover');
    expect(held.reason).toMatch(/last clock update 13512 ms ago/);
    const local = parseChronyTracking(fixture('chrony-tracking-local.csv'));
    expect(classifyChrony(local, { ...chronyOpts, wallNs: local.refTimeNs }).state).toBe('holdover');
  });

  it('chrony: an offset above lockedMaxOffsetNs is holdover', () => {
    const locked = parseChronyTracking(fixture('chrony-tracking-locked.csv'));
    const c = classifyChrony(locked, { ...chronyOpts, lockedMaxOffsetNs: 1000n, wallNs: locked.refTimeNs });
    expect(c).toMatchObject({ state: 'holdover', offsetNs: 1417n, dispersionNs: 1249n });
  });

  it('ptp: SLAVE within limit → locked, above → holdover, lost master → holdover then unsynced', () => {
    const read = (name: string) => {
      const r = parsePmcResponses(fixture(name));
      return { ts: r.timeStatus!, port: r.ports[0]! };
    };
    const opts = {
      wallNs: s(100),
      lockedMaxOffsetNs: 1_000_000n,
      lastLockedWallNs: undefined,
      holdoverMaxNs: s(300),
    };
    const a = read('pmc-slave-locked.txt');
    expect(classifyPtp(a.ts, a.port, opts)).toMatchObject({ state: 'locked', offsetNs: -12n });
    const b = read('pmc-slave-offset-high.txt');
    expect(classifyPtp(b.ts, b.port, opts).state).toBe('holdover');
    const lost = read('pmc-slave-master-lost.txt');
    expect(classifyPtp(lost.ts, lost.port, opts).state).toBe('unsynced');
    expect(classifyPtp(lost.ts, lost.port, { ...opts, lastLockedWallNs: s(90) }).state).toBe('holdover');
    expect(classifyPtp(lost.ts, lost.port, { ...opts, lastLockedWallNs: s(90), wallNs: s(500) }).state).toBe(
      'unsynced',
    );
    const listening = read('pmc-listening.txt');
    expect(classifyPtp(listening.ts, listening.port, opts)).toMatchObject({
      state: 'unsynced',
      offsetNs: null,
    });
  });
});

describe('ClockStateTracker', () => {
  const base = 1795638661000000000n;

  it('keeps per-window intervals, offset statistics and the state at the end', async () => {
    const clocks = new ManualClocks(base);
    const tracking = (offsetS: string, refTimeNs: bigint, leap = 'Normal'): string =>
      `7F000001,127.0.0.1,11,${refTimeNs / 1_000_000_000n}.${String(refTimeNs % 1_000_000_000n).padStart(9, '0')},${offsetS},0,0,0,0,0,0.000005,0.000002,1.0,${leap}\n`;
    const runner = new ScriptedRunner([
      tracking('-0.000000100', base),
      tracking('-0.000000300', base + s(2)),
      tracking('0.000000200', base + s(4)),
      tracking('0.000000200', base + s(4)), // no update since: goes stale
      tracking('0', 0n, 'Not synchronised'),
    ]);
    const tracker = new ClockStateTracker({
      logger: silentLogger(),
      probes: [
        new ChronyTrackingProbe({
          runner,
          chronycPath: 'chronyc',
          chronycArgs: ['-h', '/tmp/x.sock'],
          timeoutMs: 1000,
        }),
      ],
      sampleIntervalMs: 2000,
      lockedMaxOffsetNs: 1_000_000n,
      clocks,
    });
    for (let i = 0; i < 3; i++) {
      await tracker.sampleOnce();
      clocks.advance(s(2));
    }
    clocks.advance(s(12));
    await tracker.sampleOnce(); // at base + 18 s: last update 14 s old → holdover
    clocks.advance(s(2));
    await tracker.sampleOnce(); // at base + 20 s: unsynced
    expect(runner.calls[0]).toEqual(['chronyc', '-h', '/tmp/x.sock', '-c', 'tracking']);

    const summary = tracker.takeWindow(base - s(1), base + s(21));
    expect(summary.source).toBe('chrony');
    expect(summary.intervals).toEqual([
      { state: 'unsynced', startNs: String(base - s(1)), endNs: String(base) },
      { state: 'locked', startNs: String(base), endNs: String(base + s(18)) },
      { state: 'holdover', startNs: String(base + s(18)), endNs: String(base + s(20)) },
      { state: 'unsynced', startNs: String(base + s(20)), endNs: String(base + s(21)) },
    ]);
    // chronyc prints the correction; offsets are local − true, so signs flip
    expect(summary.offsetNs).toEqual({ min: '-200', max: '300', mean: '0', p95: '300' });
    expect(summary.dispersionNs?.max).toBe('2000');
    expect(summary.samples).toBe(5);
    expect(summary.stateAtEnd).toBe('unsynced');
    expect(summary.steps).toEqual([]);

    // the next window starts in the state the last one ended in
    const next = tracker.takeWindow(base + s(21), base + s(22));
    expect(next.intervals).toEqual([
      { state: 'unsynced', startNs: String(base + s(21)), endNs: String(base + s(22)) },
    ]);
    expect(next.offsetNs).toBeNull();
  });

  it('records a wall-clock step as the wall delta beyond the monotonic delta', async () => {
    const clocks = new ManualClocks(base);
    const runner = new ScriptedRunner([fixture('chrony-tracking-unsynced.csv')]);
    const tracker = new ClockStateTracker({
      logger: silentLogger(),
      probes: [new ChronyTrackingProbe({ runner, chronycPath: 'chronyc', chronycArgs: [], timeoutMs: 1000 })],
      sampleIntervalMs: 1000,
      lockedMaxOffsetNs: 1_000_000n,
      clocks,
    });
    await tracker.sampleOnce();
    clocks.advance(s(1));
    clocks.wall -= s(0.25); // chronyd stepped the clock back by 250 ms
    await tracker.sampleOnce();
    clocks.advance(s(1));
    clocks.wall += 5_000_000n; // 5 ms: below the 10 ms default threshold
    await tracker.sampleOnce();
    const summary = tracker.takeWindow(base, base + s(3));
    expect(summary.steps).toEqual([{ atNs: String(base + s(0.75)), stepNs: String(-s(0.25)) }]);
  });

  it('says unsynced with source none when no time service answers', async () => {
    const missing = new RigcapError('RIGCAP_TIMESYNC_UNAVAILABLE', 'chronyc -c tracking: not found');
    const tracker = createClockStateTracker(
      {
        chrony: true,
        ptp: true,
        sampleIntervalMs: 1000,
        lockedMaxOffsetNs: 1_000_000,
        chronycPath: 'chronyc',
        pmcPath: 'pmc',
      },
      { logger: silentLogger(), runner: new ScriptedRunner([missing]) },
    );
    const sample = await tracker.sampleOnce();
    expect(sample).toMatchObject({ source: 'none', state: 'unsynced' });
    expect(sample.reason).toContain('not found');
    const now = sample.wallNs;
    expect(tracker.takeWindow(now - 1000n, now + 1000n)).toMatchObject({
      source: 'none',
      stateAtEnd: 'unsynced',
      offsetNs: null,
    });
  });

  it('prefers the best state across probes, ties going to the first', async () => {
    const chrony = new ChronyTrackingProbe({
      runner: new ScriptedRunner([fixture('chrony-tracking-unsynced.csv')]),
      chronycPath: 'chronyc',
      chronycArgs: [],
      timeoutMs: 1000,
    });
    const ptp = new PtpStatusProbe({
      runner: new ScriptedRunner([fixture('pmc-slave-locked.txt')]),
      pmcPath: 'pmc',
      pmcArgs: ['-u', '-b', '0'],
      timeoutMs: 1000,
    });
    const tracker = new ClockStateTracker({
      logger: silentLogger(),
      probes: [chrony, ptp],
      sampleIntervalMs: 1000,
      lockedMaxOffsetNs: 1_000_000n,
    });
    expect(await tracker.sampleOnce()).toMatchObject({
      source: 'ptp',
      state: 'locked',
      offsetNs: -12n,
      dispersionNs: null,
    });
  });

  it('a PTP probe whose ptp4l never answered fails instead of inventing a state', async () => {
    const ptp = new PtpStatusProbe({
      runner: new ScriptedRunner(['sending: GET TIME_STATUS_NP\n']),
      pmcPath: 'pmc',
      pmcArgs: [],
      timeoutMs: 1000,
    });
    await expect(ptp.read({})).rejects.toMatchObject({ code: 'RIGCAP_TIMESYNC_UNAVAILABLE' });
  });
});

describe('rigcap.timesync metadata', () => {
  it('flattens to strings and reads back to the same summary', () => {
    const summary = {
      source: 'chrony' as const,
      startNs: '10',
      endNs: '30',
      intervals: [
        { state: 'locked' as const, startNs: '10', endNs: '20' },
        { state: 'holdover' as const, startNs: '20', endNs: '30' },
      ],
      offsetNs: { min: '-5', max: '7', mean: '1', p95: '7' },
      dispersionNs: null,
      samples: 3,
      steps: [{ atNs: '25', stepNs: '-250000000' }],
      stateAtEnd: 'holdover' as const,
    };
    const map = timesyncMetadata(summary);
    expect(map.get('offsetNs.p95')).toBe('7');
    expect(map.has('dispersionNs.min')).toBe(false);
    for (const value of map.values()) expect(typeof value).toBe('string');
    expect(timesyncFromMetadata(map)).toEqual(summary);
  });
});
