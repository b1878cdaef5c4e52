// The `policy` part of the config schema: retention, purpose and the capture context (owner, site,
// licence, legal basis, consent) signed into every record, and the geofences that name capture regions.
import { spdxExpressionPattern } from '../records/schemas.ts';

/** A site or geofence id: a short name, never coordinates. */
const idOf = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;

export const policySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    residency: { type: 'string', default: 'unspecified' },
    retentionDays: { type: 'integer', minimum: 0, default: 30 },
    purpose: { type: 'string', default: 'unspecified' },
    owner: { type: 'string', default: '' },
    site: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'name'],
      properties: {
        id: idOf,
        name: { type: 'string', minLength: 1, maxLength: 4096 },
      },
    },
    licence: {
      type: 'string',
      default: '',
      pattern: `^$|${spdxExpressionPattern.slice(1)}`,
      description: 'SPDX licence id or expression of the captured data (CC-BY-4.0, LicenseRef-…).',
    },
    legalBasis: { type: 'string', maxLength: 4096, default: '' },
    geofencesFile: {
      type: 'string',
      default: '',
      description:
        'GeoJSON FeatureCollection of Polygon features, each with properties.id, added to geofences at load.',
    },
    geofences: {
      type: 'array',
      default: [],
      description:
        'Capture regions: { id, polygon: GeoJSON Polygon ([lon, lat] rings) }. Chunk records sign the ids the GNSS fixes fell in, never coordinates.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'polygon'],
        properties: {
          id: idOf,
          polygon: {
            type: 'object',
            required: ['type', 'coordinates'],
            properties: {
              type: { const: 'Polygon' },
              coordinates: {
                type: 'array',
                minItems: 1,
                items: {
                  type: 'array',
                  minItems: 4,
                  items: { type: 'array', minItems: 2, maxItems: 3, items: { type: 'number' } },
                },
              },
            },
          },
        },
      },
    },
    consentRef: { type: 'string', maxLength: 4096, default: '' },
  },
} as const;
