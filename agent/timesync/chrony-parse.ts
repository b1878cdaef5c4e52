// Pure parsers for chronyc's CSV output (`chronyc -c tracking`, `chronyc -c sources`). chronyc
// prints seconds with nine decimals; they are read digit by digit into bigint nanoseconds so no
// float rounding enters a record.
import { RigcapError } from '../errors.ts';
import type { ChronySource, ChronySourceMode, ChronySourceState, ChronyTracking } from './types.ts';

const trackingFieldCount = 14;
const sourcesFieldCount = 10;

/** Parses a decimal seconds string (`-0.000001417`, `1795638661.347614466`) into nanoseconds. */
export function secondsToNs(text: string): bigint {
  const match = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (match === null) throw unreadable(`'${text}' is not a decimal number of seconds`);
  const [, sign, whole = '0', fraction = ''] = match;
  // Beyond nanoseconds chronyc never prints digits; truncate rather than invent precision.
  const ns = BigInt(whole) * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
  return sign === '-' ? -ns : ns;
}

function finiteNumber(text: string, field: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw unreadable(`${field} '${text}' is not a number`);
  return value;
}

function unreadable(message: string): RigcapError {
  return new RigcapError('RIGCAP_TIMESYNC_UNREADABLE', `chronyc output: ${message}`);
}

function csvLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Parses `chronyc -c tracking` (one CSV line of 14 fields). */
export function parseChronyTracking(text: string): ChronyTracking {
  const [line] = csvLines(text);
  if (line === undefined) throw unreadable('tracking output is empty');
  const f = line.split(',');
  if (f.length !== trackingFieldCount)
    throw unreadable(`tracking line has ${f.length} fields, expected ${trackingFieldCount}`);
  const at = (i: number): string => f[i] ?? '';
  return {
    refId: at(0),
    refName: at(1),
    stratum: finiteNumber(at(2), 'stratum'),
    refTimeNs: secondsToNs(at(3)),
    // chronyc's CSV "System time" is the correction (true − local); flip it to local − true.
    systemOffsetNs: -secondsToNs(at(4)),
    lastOffsetNs: secondsToNs(at(5)),
    rmsOffsetNs: secondsToNs(at(6)),
    frequencyPpm: finiteNumber(at(7), 'frequency'),
    residualFrequencyPpm: finiteNumber(at(8), 'residual frequency'),
    skewPpm: finiteNumber(at(9), 'skew'),
    rootDelayNs: secondsToNs(at(10)),
    rootDispersionNs: secondsToNs(at(11)),
    updateIntervalNs: secondsToNs(at(12)),
    leapStatus: at(13),
  };
}

const modes: Record<string, ChronySourceMode> = { '^': 'server', '=': 'peer', '#': 'refclock' };
const states: Record<string, ChronySourceState> = {
  '*': 'selected',
  '+': 'combined',
  '-': 'not-combined',
  '?': 'unreachable',
  x: 'falseticker',
  '~': 'too-variable',
};

/** Parses `chronyc -c sources` (one CSV line of 10 fields per source). */
export function parseChronySources(text: string): ChronySource[] {
  return csvLines(text).map((line, index) => {
    const f = line.split(',');
    if (f.length !== sourcesFieldCount)
      throw unreadable(`sources line ${index + 1} has ${f.length} fields, expected ${sourcesFieldCount}`);
    const at = (i: number): string => f[i] ?? '';
    const mode = modes[at(0)];
    const state = states[at(1)];
    if (mode === undefined) throw unreadable(`sources line ${index + 1}: unknown mode '${at(0)}'`);
    if (state === undefined) throw unreadable(`sources line ${index + 1}: unknown state '${at(1)}'`);
    const reach = Number.parseInt(at(5), 8);
    if (!Number.isInteger(reach))
      throw unreadable(`sources line ${index + 1}: reach '${at(5)}' is not octal`);
    return {
      mode,
      state,
      name: at(2),
      stratum: finiteNumber(at(3), 'stratum'),
      pollLog2: finiteNumber(at(4), 'poll'),
      reach,
      lastRxS: at(6) === '-' ? null : finiteNumber(at(6), 'last rx'),
      adjustedOffsetNs: secondsToNs(at(7)),
      measuredOffsetNs: secondsToNs(at(8)),
      errorNs: secondsToNs(at(9)),
    };
  });
}
