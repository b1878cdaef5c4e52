// `rigcap store devices add|list|remove`: the devices allowed to enrol on a central store. `add`
// prints the device's one-time enrolment token once (give it to the device as `sync.enrollToken`);
// the store keeps only its SHA-256, in DIR.secrets/devices.json or the --devices FILE given.
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { DeviceRegistry, defaultDevicesPath } from '../../receiver/auth/devices.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO } from './command.ts';

export const devicesUsage = `usage: rigcap store devices add ID | list | remove ID  (--data DIR | --devices FILE) [--json]

  add ID      register device ID and print its one-time enrolment token (shown only now;
              adding an id again replaces its token)
  list        registered device ids (tokens are never shown)
  remove ID   unregister ID: it can no longer enrol (keys it already enrolled stay valid until revoked)

  --data DIR       the store's data dir: the registry is DIR.secrets/devices.json (0600)
  --devices FILE   the registry file instead`;

/** Runs `rigcap store devices …` (argv after `devices`). */
export async function runDevices(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('store devices', argv, {
    data: { type: 'string' },
    devices: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, id, ...extra] = positionals;
  const path =
    values.devices !== undefined
      ? resolve(io.cwd, values.devices)
      : values.data !== undefined
        ? defaultDevicesPath(resolve(io.cwd, values.data))
        : undefined;
  if (path === undefined || extra.length > 0) throw new RigcapError('RIGCAP_USAGE', devicesUsage);
  const registry = await DeviceRegistry.open(path);
  const json = values.json === true;
  if (action === 'list' && id === undefined) {
    const devices = registry.list().map(({ id: device, addedAt }) => ({ id: device, addedAt }));
    if (json) writeJson(io.stdout, { devices });
    else for (const d of devices) io.stdout.write(`${d.id}\t${d.addedAt}\n`);
    return ExitCode.ok;
  }
  if (action === 'add' && id !== undefined) {
    const token = await registry.add(id);
    if (json) writeJson(io.stdout, { id, token, registry: path });
    else {
      io.stdout.write(`${token}\n`);
      io.stderr.write(`registered ${id}; its one-time enrolment token is above (not shown again)\n`);
    }
    return ExitCode.ok;
  }
  if (action === 'remove' && id !== undefined) {
    const removed = await registry.remove(id);
    if (json) writeJson(io.stdout, { id, removed });
    else io.stderr.write(removed ? `removed ${id}\n` : `${id} was not registered\n`);
    return removed ? ExitCode.ok : ExitCode.failed;
  }
  throw new RigcapError('RIGCAP_USAGE', devicesUsage);
}
