// Finding the running agent's local ops endpoint from the CLI (`rigcap status`, `rigcap mark`).
import { existsSync } from 'node:fs';
import { loadConfigFile } from '../config/load.ts';
import { RigcapError } from '../errors.ts';
import type { CliIO } from './command.ts';

export const defaultConfig = '/etc/rigcap/rigcap.yaml';
export const defaultListen = '127.0.0.1:9464';

/** The config file the CLI should read: --config, $RIGCAP_CONFIG, or the installed default if present. */
export function configPath(values: { config?: string | undefined }, io: CliIO): string | undefined {
  return (
    values.config ??
    (io.env['RIGCAP_CONFIG'] || undefined) ??
    (existsSync(defaultConfig) ? defaultConfig : undefined)
  );
}

/** The ops base URL: --url, else the config's `ops.listen`, else the default port on loopback. */
export function opsBaseUrl(
  values: { url?: string | undefined; config?: string | undefined },
  io: CliIO,
): string {
  if (values.url !== undefined) return values.url.replace(/\/?$/, '/');
  const file = configPath(values, io);
  const listen = file === undefined ? defaultListen : loadConfigFile(file).config.ops.listen;
  if (listen === '')
    throw new RigcapError('RIGCAP_AGENT_UNREACHABLE', 'the ops endpoint is disabled (`ops.listen` is empty)');
  // A wildcard bind is reached on loopback.
  const reachable = listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${reachable}/`;
}
