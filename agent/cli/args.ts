// Flag parsing shared by the subcommands: node:util parseArgs with usage errors mapped to
// RIGCAP_USAGE (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RigcapError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv against `options`; unknown flags and bad values raise RIGCAP_USAGE naming the command. */
export function parseFlags<const O extends Options>(command: string, argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new RigcapError('RIGCAP_USAGE', `rigcap ${command}: ${(err as Error).message}`);
  }
}

/** A positive integer flag value, or RIGCAP_USAGE. */
export function intFlag(command: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new RigcapError('RIGCAP_USAGE', `rigcap ${command}: --${name} must be a whole number`);
  return n;
}

/** Writes one JSON document to stdout. */
export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(
    `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
  );
}
