// Where the registered devices live, and the check every enrolment passes. The embedded store keeps
// its registry in a devices file (DIR.secrets/devices.json, beside the store key), the PostgreSQL
// store in the database (receiver/auth/pg-auth.ts), and either may be pointed at a devices file a
// provisioning tool writes. The receiver reads the registry at each enrolment, so a device an
// operator adds or removes counts at once on every instance.
import { timingSafeEqual } from 'node:crypto';
import { RigcapError } from '../../agent/errors.ts';
import { DeviceRegistry, tokenSha256, type RegisteredDevice } from './devices.ts';

/** The devices an operator registered, each with the SHA-256 of its one-time token. */
export interface DeviceDirectory {
  /** Where the registry is, for messages (a path or "the store database"). */
  readonly where: string;
  lookup(id: string): Promise<RegisteredDevice | undefined>;
  list(): Promise<RegisteredDevice[]>;
  /** Registers (or re-registers with a new token) a device; returns the token, shown only now. */
  add(id: string): Promise<string>;
  /** Unregisters a device (keys it enrolled stay valid until revoked). */
  remove(id: string): Promise<boolean>;
}

/** A devices file, read again at every lookup. */
export class FileDeviceDirectory implements DeviceDirectory {
  readonly where: string;

  constructor(path: string) {
    this.where = path;
  }

  async lookup(id: string): Promise<RegisteredDevice | undefined> {
    return (await DeviceRegistry.open(this.where)).list().find((d) => d.id === id);
  }

  async list(): Promise<RegisteredDevice[]> {
    return (await DeviceRegistry.open(this.where)).list();
  }

  async add(id: string): Promise<string> {
    return (await DeviceRegistry.open(this.where)).add(id);
  }

  async remove(id: string): Promise<boolean> {
    return (await DeviceRegistry.open(this.where)).remove(id);
  }
}

/** What an enrolment may present: a registered device's token, or one of the receiver's start-up tokens. */
export interface EnrolmentGateOptions {
  directory: DeviceDirectory;
  /**
   * One-time tokens given at start-up (`--enroll-token-file`), each usable by one device of any id;
   * empty on a store whose every device is registered.
   */
  startupTokens: readonly string[];
}

/**
 * Checks an enrolment before it is admitted. Returns the token's digest when it is the token the
 * registry holds for this device id (the admission then uses it up, once across every instance),
 * undefined when it is a start-up token (which the admission checks itself).
 */
export class EnrolmentGate {
  readonly #directory: DeviceDirectory;
  readonly #startup: ReadonlySet<string>;

  constructor(o: EnrolmentGateOptions) {
    this.#directory = o.directory;
    this.#startup = new Set(o.startupTokens.map(tokenSha256));
  }

  async check(deviceId: string, token: string): Promise<string | undefined> {
    if (token === '')
      throw new RigcapError(
        'RIGCAP_RECEIVER_ENROLL_REFUSED',
        `device ${deviceId} sent an empty enrolment token`,
      );
    const digest = tokenSha256(token);
    if (this.#startup.has(digest)) return undefined;
    const device = await this.#directory.lookup(deviceId);
    if (device === undefined) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_NOT_REGISTERED',
        `device ${deviceId} is not registered on this store (rigcap store devices add ${deviceId})`,
      );
    }
    if (!timingSafeEqual(Buffer.from(digest, 'hex'), Buffer.from(device.tokenSha256, 'hex')))
      throw new RigcapError('RIGCAP_RECEIVER_ENROLL_REFUSED', `wrong enrolment token for device ${deviceId}`);
    return digest;
  }
}
