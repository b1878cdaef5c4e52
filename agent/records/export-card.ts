// The dataset card (Markdown) of one session and its Croissant 1.0 + RAI JSON-LD companion (pure).
import { nsToIso } from './exports.ts';
import { describeGap, formatBytes, formatDuration, formatPercent } from './gap-text.ts';
import type { SessionFacts } from './session-facts.ts';

/** "locked 0 s (0 %), holdover 0 s (0 %), unsynced 30 s (100 %)". */
function clockLine(f: SessionFacts): string {
  const ns = f.clockNs;
  const total = Number(BigInt(ns.locked) + BigInt(ns.holdover) + BigInt(ns.unsynced));
  const part = (state: 'locked' | 'holdover' | 'unsynced'): string =>
    `${state} ${formatDuration(BigInt(ns[state]))} (${formatPercent(Number(ns[state]), total)})`;
  return `${part('locked')}, ${part('holdover')}, ${part('unsynced')}`;
}

/** Markdown dataset card. */
export function datasetCard(f: SessionFacts, options: { croissantFile: string }): string {
  const span = f.startNs && f.endNs ? `${nsToIso(f.startNs)} – ${nsToIso(f.endNs)}` : 'no chunks';
  const lines = [
    `# Session ${f.sessionId}`,
    '',
    `Captured by device \`${f.deviceId}\` with rigcap; every chunk is signed (in-toto/DSSE) and verifiable with \`rigcap verify\`.`,
    `Machine-readable companion: [${options.croissantFile}](${options.croissantFile}) (Croissant 1.0 + RAI).`,
    '',
    `- Time span: ${span}`,
    `- Chunks: ${f.chunks.length} (${formatBytes(f.chunks.reduce((a, c) => a + BigInt(c.bytes), 0n))})${f.closed ? '' : ' — session not closed'}`,
    `- Policy: ${f.policy ? `residency ${f.policy.residency}, retention ${f.policy.retentionDays} days, purpose: ${f.policy.purpose}` : 'unknown'}`,
    ...contextLines(f),
    '',
    '## Streams',
    '',
    '| topic | type | messages | dropped in agent | lost upstream |',
    '|---|---|---|---|---|',
    ...f.streams.map((s) => {
      const seen = s.count + s.drops + s.upstreamLoss;
      return `| ${s.topic} | ${s.type} | ${s.count} | ${s.drops} (${formatPercent(s.drops, seen)}) | ${s.upstreamLoss} (${formatPercent(s.upstreamLoss, seen)}) |`;
    }),
    '',
    '## Calibration',
    '',
    ...(f.calibrations.length === 0
      ? ['none recorded']
      : f.calibrations.map((c) => `- ${c.sensor}: version ${c.version}, ${c.digest}`)),
    '',
    '## Clock quality',
    '',
    clockLine(f),
    '',
    '## De-identification',
    '',
    ...(f.transforms.length === 0 ? ['no transforms recorded'] : f.transforms.map((t) => `- \`${t}\``)),
    '',
    '## Gaps and loss',
    '',
    ...(f.gaps.length === 0 ? ['no gaps'] : f.gaps.map((g) => `- ${describeGap(g)}`)),
    '',
  ];
  return lines.join('\n');
}

/** The card's capture-context lines; what the records do not state reads "not stated". */
function contextLines(f: SessionFacts): string[] {
  const c = f.context;
  const or = (v: string | null | undefined): string => (v === null || v === undefined ? 'not stated' : v);
  const lines = [
    `- Owner: ${or(c?.owner)}`,
    `- Licence: ${or(c?.licence)}`,
    `- Site: ${c?.site ? `${c.site.name} (${c.site.id})` : 'not stated'}`,
    `- Legal basis: ${or(c?.legalBasis)}; consent reference: ${or(c?.consentRef)}`,
  ];
  if (f.regions.length > 0) lines.push(`- Capture regions (geofences): ${f.regions.join(', ')}`);
  for (const s of c?.sensors ?? [])
    lines.push(`- Sensor ${s.stream}: serial ${or(s.serial)}, firmware ${or(s.firmware)}`);
  return lines;
}

/** Croissant `license`: an SPDX licence page for a single id, the expression itself otherwise. */
function licenceUrl(licence: string): string {
  return /^[A-Za-z0-9.+-]+$/.test(licence) && !licence.startsWith('LicenseRef-')
    ? `https://spdx.org/licenses/${licence}.html`
    : licence;
}

/** Croissant 1.0 JSON-LD with Responsible-AI (RAI) fields. */
export function croissantRai(f: SessionFacts): Record<string, unknown> {
  return {
    '@context': {
      '@language': 'en',
      '@vocab': 'https://schema.org/',
      cr: 'http://mlcommons.org/croissant/',
      rai: 'http://mlcommons.org/croissant/RAI/',
      dct: 'http://purl.org/dc/terms/',
      sc: 'https://schema.org/',
      rigcap: 'https://rigcap.dev/ns#',
    },
    '@type': 'sc:Dataset',
    conformsTo: 'http://mlcommons.org/croissant/1.0',
    name: `rigcap-session-${f.sessionId}`,
    description: `Robot sensor capture session ${f.sessionId} from device ${f.deviceId} (MCAP chunks with signed provenance).`,
    ...(f.startNs && f.endNs ? { temporalCoverage: `${nsToIso(f.startNs)}/${nsToIso(f.endNs)}` } : {}),
    ...(f.context?.licence ? { license: licenceUrl(f.context.licence) } : {}),
    ...(f.context?.owner ? { creator: { '@type': 'sc:Organization', name: f.context.owner } } : {}),
    ...(f.context?.site
      ? { spatialCoverage: { '@type': 'sc:Place', identifier: f.context.site.id, name: f.context.site.name } }
      : {}),
    distribution: f.chunks.map((c) => ({
      '@type': 'cr:FileObject',
      '@id': c.name,
      name: c.name,
      contentUrl: `sessions/${f.sessionId}/${c.name}`,
      contentSize: `${c.bytes} B`,
      encodingFormat: 'application/x-mcap',
      sha256: c.sha256,
    })),
    'rai:dataCollection': `Captured on device ${f.deviceId}; streams: ${f.streams.map((s) => `${s.topic} (${s.type}, ${s.count} messages)`).join('; ')}.`,
    'rai:dataCollectionTimeframe': f.startNs && f.endNs ? [nsToIso(f.startNs), nsToIso(f.endNs)] : [],
    'rai:dataPreprocessingProtocol': f.transforms,
    'rai:personalSensitiveInformation':
      'Faces and licence plates are blurred on the device before storage; records hold counts and boxes only.',
    'rai:dataLimitations': [
      `Clock: ${clockLine(f)}.`,
      `Loss: ${f.streams.reduce((a, s) => a + s.drops, 0)} samples dropped in the agent, ${f.streams.reduce((a, s) => a + s.upstreamLoss, 0)} lost upstream.`,
      ...f.gaps.map((g) => `Gap ${describeGap(g)}.`),
    ],
    'rai:dataCollectionMissingData':
      f.gaps.length === 0 ? 'No gaps.' : f.gaps.map((g) => describeGap(g)).join('\n'),
    'rigcap:gaps': f.gaps,
    'rai:dataUseCases': f.policy ? [f.policy.purpose] : [],
    'rigcap:calibration': f.calibrations,
    'rigcap:policy': f.policy,
    'rigcap:context': f.context,
  };
}
