// Which devices may enrol, and with which one-time token. An operator registers a device id
// (`rigcap store devices add ID --data DIR`), which prints a fresh token once; the store keeps only
// the token's SHA-256, in DIR.secrets/devices.json (0600, beside the store key, never inside the
// store). A devices file of the same format can be written by provisioning tools instead. Tokens
// handed to the receiver come from files (systemd LoadCredential=), never from the command line,
// and a token shorter than 32 characters is refused at start-up.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { RigcapError } from '../../agent/errors.ts';

/** Shortest enrolment token accepted. */
export const minTokenLength = 32;
const tokenPattern = /^[\x21-\x7e]+$/;
const deviceIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface RegisteredDevice {
  id: string;
  /** Lowercase hex SHA-256 of the device's one-time enrolment token. */
  tokenSha256: string;
  addedAt: string;
}

interface DevicesFile {
  version: 1;
  devices: RegisteredDevice[];
}

/** Default place of the registry: beside the store key, outside the store. */
export function defaultDevicesPath(dataDir: string): string {
  return `${resolve(dataDir)}.secrets/devices.json`;
}

/** Refuses an empty, short or non-printable token (RIGCAP_STORE_TOKEN_INVALID). */
export function checkEnrollToken(token: string, source: string): string {
  if (token.length < minTokenLength || !tokenPattern.test(token)) {
    throw new RigcapError(
      'RIGCAP_STORE_TOKEN_INVALID',
      `${source}: an enrolment token must be at least ${minTokenLength} printable characters without spaces (got ${token.length})`,
    );
  }
  return token;
}

/** Reads one token per line from a file (blank lines and `#` comments skipped); each is checked. */
export async function readTokenFile(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const tokens = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0)
    throw new RigcapError('RIGCAP_STORE_TOKEN_INVALID', `${path}: holds no enrolment token`);
  return tokens.map((t) => checkEnrollToken(t, path));
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token: 32 random bytes, base64url (43 characters). */
export function newEnrollToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Refuses a device id that is not a plain name (RIGCAP_RECEIVER_BAD_NAME). */
export function checkDeviceId(id: string): void {
  if (!deviceIdPattern.test(id)) {
    throw new RigcapError('RIGCAP_RECEIVER_BAD_NAME', `device id ${JSON.stringify(id)} is not a plain name`);
  }
}

/** The registered devices, from a devices file. */
export class DeviceRegistry {
  readonly path: string;
  readonly #devices: Map<string, RegisteredDevice>;

  private constructor(path: string, devices: RegisteredDevice[]) {
    this.path = path;
    this.#devices = new Map(devices.map((d) => [d.id, d]));
  }

  /** Loads the file; a missing file is an empty registry. */
  static async open(path: string): Promise<DeviceRegistry> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new DeviceRegistry(path, []);
      throw err;
    }
    let parsed: DevicesFile;
    try {
      parsed = JSON.parse(text) as DevicesFile;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new RigcapError('RIGCAP_CONFIG_INVALID', `${path} is not JSON: ${err.message}`);
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.devices)) {
      throw new RigcapError('RIGCAP_CONFIG_INVALID', `${path}: expected { "version": 1, "devices": [...] }`);
    }
    for (const d of parsed.devices) {
      checkDeviceId(String(d.id));
      if (!/^[0-9a-f]{64}$/.test(String(d.tokenSha256)))
        throw new RigcapError('RIGCAP_CONFIG_INVALID', `${path}: device ${d.id} has no tokenSha256`);
    }
    return new DeviceRegistry(path, parsed.devices);
  }

  list(): RegisteredDevice[] {
    return [...this.#devices.values()];
  }

  has(id: string): boolean {
    return this.#devices.has(id);
  }

  /**
   * Checks an enrolment: RIGCAP_RECEIVER_NOT_REGISTERED for an id nobody registered,
   * RIGCAP_RECEIVER_ENROLL_REFUSED for a missing or wrong token. One-time use is the state's
   * (it records the token's SHA-256 as used, shared by every receiver instance).
   */
  admit(deviceId: string, token: string | undefined): { tokenSha256: string } {
    const device = this.#devices.get(deviceId);
    if (device === undefined) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_NOT_REGISTERED',
        `device ${deviceId} is not registered on this store`,
      );
    }
    if (token === undefined || token === '') {
      throw new RigcapError('RIGCAP_RECEIVER_ENROLL_REFUSED', `device ${deviceId} sent no enrolment token`);
    }
    const got = Buffer.from(tokenSha256(token), 'hex');
    if (!timingSafeEqual(got, Buffer.from(device.tokenSha256, 'hex'))) {
      throw new RigcapError('RIGCAP_RECEIVER_ENROLL_REFUSED', `wrong enrolment token for device ${deviceId}`);
    }
    return { tokenSha256: device.tokenSha256 };
  }

  /** Registers (or re-registers, with a new token) a device; returns its token, shown only now. */
  async add(id: string, now = new Date()): Promise<string> {
    checkDeviceId(id);
    const token = newEnrollToken();
    this.#devices.set(id, { id, tokenSha256: tokenSha256(token), addedAt: now.toISOString() });
    await this.#save();
    return token;
  }

  /** Unregisters a device (its enrolled keys stay valid until revoked). */
  async remove(id: string): Promise<boolean> {
    const had = this.#devices.delete(id);
    if (had) await this.#save();
    return had;
  }

  async #save(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const body: DevicesFile = { version: 1, devices: this.list().sort((a, b) => a.id.localeCompare(b.id)) };
    const tmp = `${this.path}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
  }
}
