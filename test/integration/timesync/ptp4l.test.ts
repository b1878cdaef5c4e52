// Real ptp4l master and slave with software timestamps on a veth pair between two namespaces.
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { ClockStateTracker } from '../../../agent/timesync/clock-state-tracker.ts';
import { ExecFileCommandRunner } from '../../../agent/timesync/command-runner.ts';
import { PtpStatusProbe } from '../../../agent/timesync/probes.ts';
import { waitFor } from '../../support/wait.ts';
import { ensureCommand, privateDir, startPtp4l, vethPair, type Daemon } from './daemons.ts';

const tag = String(process.pid % 100000);
let skip = ensureCommand('ptp4l', 'linuxptp') ?? ensureCommand('pmc', 'linuxptp');
const net = skip === undefined ? vethPair(tag) : undefined;
if (skip === undefined && net === undefined) skip = 'network namespaces or veth pairs are not permitted here';
if (skip !== undefined) console.warn(`skipping real ptp4l tests: ${skip}`);

describe.skipIf(skip !== undefined)('PtpStatusProbe against real ptp4l on a veth pair', () => {
  const tmp = privateDir('rigcap-ptp-');
  const daemons: Daemon[] = [];
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    net?.remove();
    tmp.remove();
  });

  it('reads LISTENING without a grandmaster, then the master once it announces', async () => {
    if (net === undefined) return;
    const slave = startPtp4l({
      netns: net.slave,
      iface: net.slaveIf,
      dir: tmp.dir,
      name: 'slave',
      role: 'slave',
    });
    daemons.push(slave.daemon);
    const probe = new PtpStatusProbe({
      runner: new ExecFileCommandRunner(),
      pmcPath: 'pmc',
      pmcArgs: ['-u', '-b', '0', '-s', slave.uds],
      timeoutMs: 2000,
    });
    const tracker = new ClockStateTracker({
      logger: silentLogger(),
      probes: [probe],
      sampleIntervalMs: 250,
      lockedMaxOffsetNs: 1_000_000n,
    });

    const alone = await waitFor(
      async () => {
        const s = await tracker.sampleOnce();
        return s.source === 'ptp' ? s : undefined;
      },
      { what: 'a PTP sample without a grandmaster', timeoutMs: 60_000, everyMs: 250 },
    );
    expect(alone).toMatchObject({ source: 'ptp', state: 'unsynced' });
    expect(alone?.reason).toMatch(/no grandmaster/);

    const master = startPtp4l({
      netns: net.master,
      iface: net.masterIf,
      dir: tmp.dir,
      name: 'master',
      role: 'master',
    });
    daemons.push(master.daemon);
    const following = await waitFor(
      async () => {
        const reading = await probe.read({}).catch(() => undefined);
        return reading?.source === 'ptp' &&
          reading.timeStatus.gmPresent &&
          reading.port.portState === 'UNCALIBRATED'
          ? reading
          : undefined;
      },
      { what: 'ptp4l to follow the grandmaster (UNCALIBRATED)', timeoutMs: 60_000, everyMs: 250 },
    );
    expect(following).toBeDefined();
    if (following?.source !== 'ptp') return;
    // same CLOCK_REALTIME on both ends: the measured offset is tiny
    expect(
      following.timeStatus.masterOffsetNs < 1_000_000n && following.timeStatus.masterOffsetNs > -1_000_000n,
    ).toBe(true);
    // free_running never locks, and a clock that never locked is not in holdover
    const sample = await tracker.sampleOnce();
    expect(sample.state).toBe('unsynced');
    expect(sample.reason).toMatch(/UNCALIBRATED/);
    await tracker.close();
  });
});
