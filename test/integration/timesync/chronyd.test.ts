// Real chronyd pair on loopback: B tracks A over NTP on a private port; neither touches the clock.
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { ClockStateTracker } from '../../../agent/timesync/clock-state-tracker.ts';
import { ExecFileCommandRunner } from '../../../agent/timesync/command-runner.ts';
import { ChronyTrackingProbe } from '../../../agent/timesync/probes.ts';
import type { ClockState } from '../../../agent/timesync/types.ts';
import { waitFor } from '../../support/wait.ts';
import { ensureCommand, privateDir, startChronyd, type Daemon } from './daemons.ts';

const missing = ensureCommand('chronyd', 'chrony') ?? ensureCommand('chronyc', 'chrony');
if (missing !== undefined) console.warn(`skipping real chronyd tests: ${missing}`);

describe.skipIf(missing !== undefined)('ClockStateTracker against a real chronyd', () => {
  const tmp = privateDir('rigcap-chrony-');
  const daemons: Daemon[] = [];
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    tmp.remove();
  });

  it('goes unsynced → locked → holdover as its NTP server appears and vanishes', async () => {
    const ntpPort = 20000 + Math.floor(Math.random() * 20000);
    const client = startChronyd(tmp.dir, 'client', [
      `server 127.0.0.1 port ${ntpPort} iburst minpoll -2 maxpoll 0`,
      'port 0',
    ]);
    daemons.push(client.daemon);
    const probe = new ChronyTrackingProbe({
      runner: new ExecFileCommandRunner(),
      chronycPath: 'chronyc',
      chronycArgs: ['-h', client.socket],
      timeoutMs: 2000,
    });
    const tracker = new ClockStateTracker({
      logger: silentLogger(),
      probes: [probe],
      sampleIntervalMs: 250,
      lockedMaxOffsetNs: 1_000_000n,
      // chronyd polls every second here; 2 s without an update is holdover for this test
      staleUpdateFactor: 2,
      minStaleNs: 2_000_000_000n,
    });
    const until = (state: ClockState) =>
      waitFor(async () => ((await tracker.sampleOnce()).state === state ? state : undefined), {
        what: `the clock state to become ${state}`,
        timeoutMs: 60_000,
        everyMs: 250,
      });

    const startNs = BigInt(Date.now()) * 1_000_000n;
    expect(await until('unsynced')).toBe('unsynced');

    const server = startChronyd(tmp.dir, 'server', [
      'local stratum 10',
      'allow 127.0.0.1',
      'bindaddress 127.0.0.1',
      `port ${ntpPort}`,
    ]);
    daemons.push(server.daemon);
    expect(await until('locked')).toBe('locked');
    const sources = await probe.readSources();
    expect(sources[0]).toMatchObject({ name: '127.0.0.1', state: 'selected' });

    await server.daemon.stop();
    expect(await until('holdover')).toBe('holdover');
    const endNs = BigInt(Date.now()) * 1_000_000n + 1n;

    const summary = tracker.takeWindow(startNs, endNs);
    expect(summary.source).toBe('chrony');
    expect(summary.intervals.map((i) => i.state)).toEqual(['unsynced', 'locked', 'holdover']);
    expect(summary.stateAtEnd).toBe('holdover');
    expect(summary.offsetNs).not.toBeNull();
    // a loopback NTP server on the same clock: offsets stay far below a millisecond
    expect(Math.abs(Number(summary.offsetNs?.max))).toBeLessThan(1_000_000);
    await tracker.close();
  });

  it('a chronyc that cannot reach its daemon makes the probe fail with a stable code', async () => {
    const probe = new ChronyTrackingProbe({
      runner: new ExecFileCommandRunner(),
      chronycPath: 'chronyc',
      chronycArgs: ['-h', `${tmp.dir}/nobody.sock`],
      timeoutMs: 3000,
    });
    await expect(probe.read({})).rejects.toMatchObject({ code: 'RIGCAP_TIMESYNC_UNAVAILABLE' });
  });
});
