// Per-device limits on what the store accepts: bytes a day (UTC), uploads open at once, and the
// size of one upload. The in-memory book counts what passes through this receiver instance (the
// embedded store has one); with PostgreSQL the counts live in the database (receiver/auth/pg-auth.ts)
// so every instance behind one address applies one limit to a device.
import { RigcapError } from '../../agent/errors.ts';

export interface DeviceQuotas {
  /** Part bytes one device may send in a UTC day (0: no limit). */
  bytesPerDay: number;
  /** Uploads one device may have created and not finished (0: no limit). */
  concurrentUploads: number;
  /** Largest single upload (Upload-Length) one device may declare (0: the store's limit). */
  uploadBytes: number;
}

/** Where quota use is counted: one process (QuotaBook) or the state database. */
export interface QuotaLedger {
  readonly quotas: DeviceQuotas;
  /** Before a create: the declared size and the number of open uploads. */
  checkCreate(device: string, uploadLength: number): Promise<void>;
  opened(device: string, uploadId: string): Promise<void>;
  finished(device: string, uploadId: string): Promise<void>;
  /** Before a part is read: refuses when the day's bytes would pass the limit. */
  checkPart(device: string, partBytes: number): Promise<void>;
  accepted(device: string, partBytes: number): Promise<void>;
}

/** The UTC day a quota counts bytes in (YYYY-MM-DD). */
export function quotaDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** RIGCAP_RECEIVER_OVERSIZE when the declared size passes the device's upload limit. */
export function checkUploadSize(quotas: DeviceQuotas, device: string, uploadLength: number): void {
  if (quotas.uploadBytes > 0 && uploadLength > quotas.uploadBytes) {
    throw new RigcapError(
      'RIGCAP_RECEIVER_OVERSIZE',
      `device ${device} may upload at most ${quotas.uploadBytes} bytes at once (declared ${uploadLength})`,
    );
  }
}

/** RIGCAP_RECEIVER_QUOTA when another upload would pass the open-uploads limit. */
export function checkOpenUploads(quotas: DeviceQuotas, device: string, open: number): void {
  if (quotas.concurrentUploads > 0 && open >= quotas.concurrentUploads) {
    throw new RigcapError(
      'RIGCAP_RECEIVER_QUOTA',
      `device ${device} has ${open} uploads open (limit ${quotas.concurrentUploads}); finish or delete one`,
    );
  }
}

/** RIGCAP_RECEIVER_QUOTA when a part would pass the day's bytes. */
export function checkDayBytes(quotas: DeviceQuotas, device: string, used: number, partBytes: number): void {
  if (quotas.bytesPerDay > 0 && used + partBytes > quotas.bytesPerDay) {
    throw new RigcapError(
      'RIGCAP_RECEIVER_QUOTA',
      `device ${device} sent ${used} of its ${quotas.bytesPerDay} bytes today; the rest waits for tomorrow (UTC)`,
    );
  }
}

interface Usage {
  day: string;
  bytes: number;
  open: Set<string>;
}

/** Quota use counted in this process. */
export class QuotaBook implements QuotaLedger {
  readonly quotas: DeviceQuotas;
  readonly #usage = new Map<string, Usage>();
  readonly #now: () => Date;

  constructor(quotas: DeviceQuotas, now: () => Date = () => new Date()) {
    this.quotas = quotas;
    this.#now = now;
  }

  #of(device: string): Usage {
    const day = quotaDay(this.#now());
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

  async checkCreate(device: string, uploadLength: number): Promise<void> {
    checkUploadSize(this.quotas, device, uploadLength);
    checkOpenUploads(this.quotas, device, this.#of(device).open.size);
  }

  async opened(device: string, uploadId: string): Promise<void> {
    this.#of(device).open.add(uploadId);
  }

  async finished(device: string, uploadId: string): Promise<void> {
    this.#of(device).open.delete(uploadId);
  }

  async checkPart(device: string, partBytes: number): Promise<void> {
    checkDayBytes(this.quotas, device, this.#of(device).bytes, partBytes);
  }

  async accepted(device: string, partBytes: number): Promise<void> {
    this.#of(device).bytes += partBytes;
  }
}
