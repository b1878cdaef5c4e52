import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRigcapError } from '../../../agent/errors.ts';
import {
  parseChronySources,
  parseChronyTracking,
  secondsToNs,
} from '../../../agent/timesync/chrony-parse.ts';
import { disciplinePort, parsePmcResponses } from '../../../agent/timesync/pmc-parse.ts';

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, '../../fixtures/timesync', name), 'utf8');

describe('chronyc -c tracking', () => {
  it('reads a chronyd 4.3 tracking a server, flipping the correction into local − true', () => {
    const t = parseChronyTracking(fixture('chrony-tracking-locked.csv'));
    expect(t).toMatchObject({ refId: '7F000001', refName: '127.0.0.1', stratum: 11, leapStatus: 'Normal' });
    expect(t.refTimeNs).toBe(1795638661347614466n);
    // chronyc text said "0.000001417 seconds fast of NTP time"
    expect(t.systemOffsetNs).toBe(1417n);
    expect(t.lastOffsetNs).toBe(-116n);
    expect(t.rmsOffsetNs).toBe(69n);
    expect(t.rootDispersionNs).toBe(1249n);
    expect(t.updateIntervalNs).toBe(1_000_000_000n);
    expect(t.frequencyPpm).toBe(-0.003);
  });

  it('reads the unsynchronised state of a fresh chronyd', () => {
    const t = parseChronyTracking(fixture('chrony-tracking-unsynced.csv'));
    expect(t).toMatchObject({
      refId: '00000000',
      refName: '',
      stratum: 0,
      leapStatus: 'Not synchronised',
      refTimeNs: 0n,
    });
    expect(t.rootDispersionNs).toBe(1_000_000_000n);
  });

  it('rejects truncated or non-numeric output with a stable code', () => {
    expect(() => parseChronyTracking('7F000001,127.0.0.1,11')).toThrow(
      expect.objectContaining({ code: 'RIGCAP_TIMESYNC_UNREADABLE' }),
    );
    expect(() => parseChronyTracking('')).toThrow(
      expect.objectContaining({ code: 'RIGCAP_TIMESYNC_UNREADABLE' }),
    );
    const bad = fixture('chrony-tracking-locked.csv').replace('-0.000001417', 'abc');
    expect(() => parseChronyTracking(bad)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_TIMESYNC_UNREADABLE' }),
    );
  });

  it('never throws anything but a RigcapError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseChronyTracking(text);
        } catch (err) {
          expect(isRigcapError(err, 'RIGCAP_TIMESYNC_UNREADABLE')).toBe(true);
        }
      }),
    );
  });

  it('reads seconds exactly into nanoseconds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (ns) => {
        const abs = ns < 0n ? -ns : ns;
        const text = `${ns < 0n ? '-' : ''}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, '0')}`;
        expect(secondsToNs(text)).toBe(ns);
      }),
    );
  });
});

describe('chronyc -c sources', () => {
  it('reads a selected server with reach 377 (octal) and an unreachable one', () => {
    const [selected] = parseChronySources(fixture('chrony-sources-selected.csv'));
    expect(selected).toMatchObject({
      mode: 'server',
      state: 'selected',
      name: '127.0.0.1',
      stratum: 10,
      pollLog2: 0,
      reach: 0o377,
      lastRxS: 1,
    });
    expect(selected?.adjustedOffsetNs).toBe(-172n);
    const [lost] = parseChronySources(fixture('chrony-sources-unreachable.csv'));
    expect(lost).toMatchObject({ state: 'unreachable', reach: 0, lastRxS: 13 });
  });

  it('reads every mode and state of a mixed refclock + pool setup', () => {
    const sources = parseChronySources(fixture('chrony-sources-pool.csv'));
    expect(sources.map((s) => `${s.mode}/${s.state}`)).toEqual([
      'refclock/selected',
      'refclock/not-combined',
      'server/combined',
      'server/not-combined',
      'server/falseticker',
      'server/too-variable',
      'server/unreachable',
    ]);
    expect(sources.at(-1)?.lastRxS).toBeNull();
    expect(sources[4]?.measuredOffsetNs).toBe(-81227051n);
  });
});

describe('pmc TIME_STATUS_NP + PORT_DATA_SET', () => {
  it('reads a locked hardware-timestamped slave', () => {
    const r = parsePmcResponses(fixture('pmc-slave-locked.txt'));
    expect(r.timeStatus).toEqual({
      masterOffsetNs: -12n,
      ingressTimeNs: 1795641022508311954n,
      gmPresent: true,
      gmIdentity: 'ac1f6b.fffe.0a12f0',
    });
    expect(disciplinePort(r.ports)).toMatchObject({
      portState: 'SLAVE',
      peerMeanPathDelayNs: 412n,
      delayMechanism: 2,
      logSyncInterval: -2,
    });
  });

  it('reads ptp4l outputs captured on a veth pair: listening, uncalibrated, master, master lost', () => {
    expect(parsePmcResponses(fixture('pmc-listening.txt'))).toMatchObject({
      timeStatus: { gmPresent: false },
      ports: [{ portState: 'LISTENING' }],
    });
    expect(parsePmcResponses(fixture('pmc-uncalibrated.txt'))).toMatchObject({
      timeStatus: { gmPresent: true, masterOffsetNs: -237n, gmIdentity: '36995d.fffe.834646' },
      ports: [{ portState: 'UNCALIBRATED' }],
    });
    expect(parsePmcResponses(fixture('pmc-master.txt')).ports[0]?.portState).toBe('MASTER');
    expect(parsePmcResponses(fixture('pmc-slave-master-lost.txt')).ports[0]?.portState).toBe('LISTENING');
  });

  it('finds no responses when ptp4l did not answer, and picks the SLAVE port of a boundary clock', () => {
    expect(parsePmcResponses('sending: GET TIME_STATUS_NP\nsending: GET PORT_DATA_SET\n')).toEqual({
      timeStatus: undefined,
      ports: [],
    });
    const slave = fixture('pmc-slave-locked.txt');
    const master = fixture('pmc-master.txt').split('\n').slice(11).join('\n');
    const ports = parsePmcResponses(`${master}\n${slave}`).ports;
    expect(ports.map((p) => p.portState)).toEqual(['MASTER', 'SLAVE']);
    expect(disciplinePort(ports)?.portState).toBe('SLAVE');
  });

  it('rejects a response with a malformed field', () => {
    const bad = fixture('pmc-slave-locked.txt').replace(
      'master_offset              -12',
      'master_offset              x12',
    );
    expect(() => parsePmcResponses(bad)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_TIMESYNC_UNREADABLE' }),
    );
  });
});
