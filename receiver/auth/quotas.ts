// Per-device limits on what the store accepts: bytes a day (UTC), uploads open at once, and the
// size of one upload. Counted by this receiver instance (the day's bytes are the part bytes it
// accepted); several instances each apply the limits to what passes through them.
import { RigcapError } from '../../agent/errors.ts';

export interface DeviceQuotas {
  /** Part bytes one device may send in a UTC day (0: no limit). */
  bytesPerDay: number;
  /** Uploads one device may have created and not finished (0: no limit). */
  concurrentUploads: number;
  /** Largest single upload (Upload-Length) one device may declare (0: the store's limit). */
  uploadBytes: number;
}

interface Usage {
  day: string;
  bytes: number;
  open: Set<string>;
}

export class QuotaBook {
  readonly quotas: DeviceQuotas;
  readonly #usage = new Map<string, Usage>();
  readonly #now: () => Date;

  constructor(quotas: DeviceQuotas, now: () => Date = () => new Date()) {
    this.quotas = quotas;
    this.#now = now;
  }

  #of(device: string): Usage {
    const day = this.#now().toISOString().slice(0, 10);
    let u = this.#usage.get(device);
    if (u === undefined) {
      u = { day, bytes: 0, open: new Set() };
      this.#usage.set(device, u);
    }
    if (u.day !== day) {
      u.day = day;
      u.bytes = 0;
    }
    return u;
  }

  /** Before a create: the declared size and the number of open uploads. */
  checkCreate(device: string, uploadLength: number): void {
    const { uploadBytes, concurrentUploads } = this.quotas;
    if (uploadBytes > 0 && uploadLength > uploadBytes) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_OVERSIZE',
        `device ${device} may upload at most ${uploadBytes} bytes at once (declared ${uploadLength})`,
      );
    }
    const u = this.#of(device);
    if (concurrentUploads > 0 && u.open.size >= concurrentUploads) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_QUOTA',
        `device ${device} has ${u.open.size} uploads open (limit ${concurrentUploads}); finish or delete one`,
      );
    }
  }

  opened(device: string, uploadId: string): void {
    this.#of(device).open.add(uploadId);
  }

  finished(device: string, uploadId: string): void {
    this.#of(device).open.delete(uploadId);
  }

  /** Before a part is read: refuses when the day's bytes would pass the limit. */
  checkPart(device: string, partBytes: number): void {
    const { bytesPerDay } = this.quotas;
    const u = this.#of(device);
    if (bytesPerDay > 0 && u.bytes + partBytes > bytesPerDay) {
      throw new RigcapError(
        'RIGCAP_RECEIVER_QUOTA',
        `device ${device} sent ${u.bytes} of its ${bytesPerDay} bytes today; the rest waits for tomorrow (UTC)`,
      );
    }
  }

  accepted(device: string, partBytes: number): void {
    this.#of(device).bytes += partBytes;
  }
}
