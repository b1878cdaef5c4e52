// Writes config/rigcap.schema.json from the schema in code (editors validate YAML against it).
// `node scripts/export-config-schema.ts [--check]`: --check fails when the file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../agent/config/schema.ts';

const file = join(import.meta.dirname, '..', 'config', 'rigcap.schema.json');
const text = `${JSON.stringify(configSchema, null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (readFileSync(file, 'utf8') !== text) {
    console.error(`${file} is stale: run node scripts/export-config-schema.ts`);
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
