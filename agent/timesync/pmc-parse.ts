// Pure parser for linuxptp `pmc` management responses (TIME_STATUS_NP, PORT_DATA_SET). pmc prints
// a header line per response (`<portIdentity> seq N RESPONSE MANAGEMENT <ID>`) followed by
// indented `name value` lines; anything else (the `sending:` echo) is ignored.
import { RigcapError } from '../errors.ts';
import type { PtpPortDataSet, PtpTimeStatus } from './types.ts';

/** The responses found in one pmc run. */
export interface PmcResponses {
  timeStatus: PtpTimeStatus | undefined;
  /** One per port (a boundary clock answers for each). */
  ports: PtpPortDataSet[];
}

const headerPattern = /^\s*(\S+)\s+seq\s+\d+\s+RESPONSE\s+MANAGEMENT\s+(\S+)/;

function unreadable(message: string): RigcapError {
  return new RigcapError('RIGCAP_TIMESYNC_UNREADABLE', `pmc output: ${message}`);
}

function integer(fields: Map<string, string>, name: string, id: string): bigint {
  const text = fields.get(name);
  if (text === undefined || !/^[+-]?\d+$/.test(text))
    throw unreadable(`${id} ${name} is '${text ?? '(missing)'}', expected an integer`);
  return BigInt(text);
}

function text(fields: Map<string, string>, name: string, id: string): string {
  const value = fields.get(name);
  if (value === undefined || value === '') throw unreadable(`${id} lacks ${name}`);
  return value;
}

/** Splits pmc output into management responses and reads TIME_STATUS_NP and PORT_DATA_SET. */
export function parsePmcResponses(output: string): PmcResponses {
  const blocks: Array<{ id: string; fields: Map<string, string> }> = [];
  for (const line of output.split('\n')) {
    const header = headerPattern.exec(line);
    if (header !== null) {
      blocks.push({ id: header[2] ?? '', fields: new Map() });
      continue;
    }
    const current = blocks.at(-1);
    const field = /^\s+(\S+)\s+(.*?)\s*$/.exec(line);
    if (current !== undefined && field !== null) current.fields.set(field[1] ?? '', field[2] ?? '');
  }
  let timeStatus: PtpTimeStatus | undefined;
  const ports: PtpPortDataSet[] = [];
  for (const { id, fields } of blocks) {
    if (id === 'TIME_STATUS_NP') {
      const gm = text(fields, 'gmPresent', id);
      if (gm !== 'true' && gm !== 'false') throw unreadable(`${id} gmPresent is '${gm}'`);
      timeStatus = {
        masterOffsetNs: integer(fields, 'master_offset', id),
        ingressTimeNs: integer(fields, 'ingress_time', id),
        gmPresent: gm === 'true',
        gmIdentity: text(fields, 'gmIdentity', id),
      };
    } else if (id === 'PORT_DATA_SET') {
      ports.push({
        portIdentity: text(fields, 'portIdentity', id),
        portState: text(fields, 'portState', id),
        peerMeanPathDelayNs: integer(fields, 'peerMeanPathDelay', id),
        logSyncInterval: Number(integer(fields, 'logSyncInterval', id)),
        delayMechanism: Number(integer(fields, 'delayMechanism', id)),
      });
    }
  }
  return { timeStatus, ports };
}

/** The port that disciplines the clock: the SLAVE port if any, else the first one. */
export function disciplinePort(ports: readonly PtpPortDataSet[]): PtpPortDataSet | undefined {
  return (
    ports.find((p) => p.portState === 'SLAVE') ??
    ports.find((p) => p.portState === 'UNCALIBRATED') ??
    ports[0]
  );
}
