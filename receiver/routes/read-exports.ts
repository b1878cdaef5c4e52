// The session exports the read API and the dashboard offer, as bytes with their file name and type.
import {
  croissantRai,
  datasetCard,
  intotoBundle,
  provDocument,
  sessionFacts,
  type SessionRecords,
} from '../../agent/records/exports.ts';
import { RigcapError } from '../../agent/errors.ts';

/** Export formats by name. */
export const exportFormats = ['intoto', 'prov', 'card', 'croissant'] as const;

/** One export of a session: its file name, content type and body. */
export function sessionExport(
  s: SessionRecords,
  format: string,
): { fileName: string; type: string; body: string } {
  const base = s.sessionId;
  switch (format) {
    case 'intoto':
      return {
        fileName: `${base}.intoto.jsonl`,
        type: 'application/jsonl; charset=utf-8',
        body: intotoBundle(s),
      };
    case 'prov':
      return {
        fileName: `${base}.prov.json`,
        type: 'application/json',
        body: JSON.stringify(provDocument(s), null, 2),
      };
    case 'card':
      return {
        fileName: `${base}.card.md`,
        type: 'text/markdown; charset=utf-8',
        body: datasetCard(sessionFacts(s), { croissantFile: `${base}.croissant.json` }),
      };
    case 'croissant':
      return {
        fileName: `${base}.croissant.json`,
        type: 'application/ld+json',
        body: JSON.stringify(croissantRai(sessionFacts(s)), null, 2),
      };
    default:
      throw new RigcapError(
        'RIGCAP_RECEIVER_BAD_REQUEST',
        `unknown export format ${format} (${exportFormats.join(', ')})`,
      );
  }
}
