// Reads the std_msgs/Header stamp straight from CDR bytes, so header time costs two integer reads
// and no deserialisation. Stamped ROS 2 types put the header first, and the header puts the stamp
// (builtin_interfaces/Time: int32 sec, uint32 nanosec) first, right after the encapsulation.

/** CDR encapsulation kinds (representation identifier, byte 1) and their byte order. */
const LITTLE_ENDIAN_KINDS = new Set([0x01, 0x03, 0x07, 0x09, 0x0b]); // CDR_LE, PL_CDR_LE, CDR2_LE, D_CDR2_LE, PL_CDR2_LE
const BIG_ENDIAN_KINDS = new Set([0x00, 0x02, 0x06, 0x08, 0x0a]);

const ENCAPSULATION_BYTES = 4;
const STAMP_BYTES = 8;

/** Byte order of a CDR payload, or undefined when the 4-byte encapsulation header is not CDR. */
export function cdrByteOrder(data: Uint8Array): 'le' | 'be' | undefined {
  if (data.byteLength < ENCAPSULATION_BYTES || data[0] !== 0x00) return undefined;
  const kind = data[1] ?? -1;
  if (LITTLE_ENDIAN_KINDS.has(kind)) return 'le';
  if (BIG_ENDIAN_KINDS.has(kind)) return 'be';
  return undefined;
}

/** The leading builtin_interfaces/Time of a CDR message in ns since the epoch, or undefined if unreadable. */
export function readLeadingStampNs(data: Uint8Array): bigint | undefined {
  const order = cdrByteOrder(data);
  if (order === undefined || data.byteLength < ENCAPSULATION_BYTES + STAMP_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const littleEndian = order === 'le';
  const sec = view.getInt32(ENCAPSULATION_BYTES, littleEndian);
  const nanosec = view.getUint32(ENCAPSULATION_BYTES + 4, littleEndian);
  if (nanosec >= 1_000_000_000) return undefined;
  return BigInt(sec) * 1_000_000_000n + BigInt(nanosec);
}
