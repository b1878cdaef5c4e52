// `rigcap store devices add|list|remove`: the devices allowed to enrol on a central store. `add`
// prints the device's one-time enrolment token once (give it to the device as `sync.enrollToken`);
// the store keeps only its SHA-256: in DIR.secrets/devices.json for an embedded store, in the
// database for a PostgreSQL store, or in the --devices FILE given.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { deviceDirectoryOf } from '../../receiver/auth/open.ts';
import type { DeviceDirectory } from '../../receiver/auth/device-directory.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO } from './command.ts';
import { parseDbUrl } from './receiver.ts';

export const devicesUsage = `usage: rigcap store devices add ID | list | remove ID
         (--data DIR | --db postgres://USER@HOST/DB [--db-password-file F] | --devices FILE) [--json]

  add ID      register device ID and print its one-time enrolment token (shown only now;
              adding an id again replaces its token); --token-file F writes it to a new
              file F (0600) instead
  list        registered device ids (tokens are never shown)
  remove ID   unregister ID: it can no longer enrol (keys it already enrolled stay valid until revoked)

  --data DIR       an embedded store: the registry is DIR.secrets/devices.json (0600)
  --db URL         a PostgreSQL store: the registry is in the database (every receiver reads it)
  --devices FILE   the registry file instead (receivers started with --devices FILE)`;

/** The registry named by the flags, and how to let go of it. */
async function openDirectory(
  values: { data?: string; db?: string; devices?: string; 'db-password-file'?: string },
  cwd: string,
): Promise<{ directory: DeviceDirectory; close(): Promise<void> } | undefined> {
  if (values.devices !== undefined || values.db === undefined) {
    const directory = deviceDirectoryOf({
      devicesFile: values.devices === undefined ? undefined : resolve(cwd, values.devices),
      dataDir: values.data === undefined ? undefined : resolve(cwd, values.data),
    });
    return directory === undefined ? undefined : { directory, close: async () => undefined };
  }
  const { openPgReceiverState } = await import('../../receiver/state/pg/pg-state.ts');
  const passwordFile = values['db-password-file'];
  const password =
    passwordFile === undefined ? undefined : (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
  const state = await openPgReceiverState({
    url: parseDbUrl(values.db),
    log: silentLogger(),
    maxConnections: 1,
    ...(password === undefined ? {} : { password }),
  });
  return {
    directory: deviceDirectoryOf({ pool: state.pool }) as DeviceDirectory,
    close: () => state.close(),
  };
}

async function act(
  directory: DeviceDirectory,
  action: string | undefined,
  id: string | undefined,
  o: { io: CliIO; json: boolean; tokenFile: string | undefined },
): Promise<number> {
  const { io, json, tokenFile } = o;
  if (action === 'list' && id === undefined) {
    const devices = (await directory.list()).map(({ id: device, addedAt }) => ({ id: device, addedAt }));
    if (json) writeJson(io.stdout, { devices });
    else for (const d of devices) io.stdout.write(`${d.id}\t${d.addedAt}\n`);
    return ExitCode.ok;
  }
  if (action === 'add' && id !== undefined) {
    const token = await directory.add(id);
    if (tokenFile !== undefined) {
      await writeFile(tokenFile, `${token}\n`, { mode: 0o600, flag: 'wx' });
      if (json) writeJson(io.stdout, { id, deviceId: id, tokenFile, registry: directory.where });
      else io.stderr.write(`registered ${id}; its one-time enrolment token is in ${tokenFile}\n`);
    } else if (json) writeJson(io.stdout, { id, deviceId: id, token, registry: directory.where });
    else {
      io.stdout.write(`${token}\n`);
      io.stderr.write(`registered ${id}; its one-time enrolment token is above (not shown again)\n`);
    }
    return ExitCode.ok;
  }
  if (action === 'remove' && id !== undefined) {
    const removed = await directory.remove(id);
    if (json) writeJson(io.stdout, { id, removed });
    else io.stderr.write(removed ? `removed ${id}\n` : `${id} was not registered\n`);
    return removed ? ExitCode.ok : ExitCode.failed;
  }
  throw new RigcapError('RIGCAP_USAGE', devicesUsage);
}

/** Runs `rigcap store devices …` (argv after `devices`). */
export async function runDevices(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('store devices', argv, {
    data: { type: 'string' },
    db: { type: 'string' },
    'db-password-file': { type: 'string' },
    devices: { type: 'string' },
    'token-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, id, ...extra] = positionals;
  if (extra.length > 0) throw new RigcapError('RIGCAP_USAGE', devicesUsage);
  const opened = await openDirectory(values, io.cwd);
  if (opened === undefined) throw new RigcapError('RIGCAP_USAGE', devicesUsage);
  try {
    const tokenFile = values['token-file'] === undefined ? undefined : resolve(io.cwd, values['token-file']);
    return await act(opened.directory, action, id, { io, json: values.json === true, tokenFile });
  } finally {
    await opened.close();
  }
}
