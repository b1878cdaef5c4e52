// ROS 2 message schemas for the types @foxglove/rosmsg-msgs-common knows: the parsed definitions
// (for CDR readers and writers) and the MCAP `ros2msg` schema text in the convention rosbag2 writes
// (root definition, then each dependency after a `====…\nMSG: pkg/Type` separator).
import { ros2humble, ros2jazzy } from '@foxglove/rosmsg-msgs-common';
import type { MessageDefinition, MessageDefinitionField } from '@foxglove/message-definition';
import type { StreamSchema } from './types.ts';

/** ROS 2 distributions whose common message definitions are bundled. */
export type Ros2Distro = 'humble' | 'jazzy';

const definitionsByDistro: Record<Ros2Distro, Readonly<Record<string, MessageDefinition>>> = {
  humble: ros2humble as Readonly<Record<string, MessageDefinition>>,
  jazzy: ros2jazzy as Readonly<Record<string, MessageDefinition>>,
};

const separator = '================================================================================\n';

// rosmsg-msgs-common folds builtin_interfaces/Time and Duration into primitives; ros2msg text spells
// them out, so the schema text maps them back and appends their definitions.
const builtinTimeTypes: Readonly<Record<string, string>> = {
  time: 'builtin_interfaces/Time',
  duration: 'builtin_interfaces/Duration',
};
const builtinTimeText: Readonly<Record<string, string>> = {
  'builtin_interfaces/Time': 'int32 sec\nuint32 nanosec\n',
  'builtin_interfaces/Duration': 'int32 sec\nuint32 nanosec\n',
};

/** `sensor_msgs/msg/Imu` → `sensor_msgs/Imu` (the key rosmsg-msgs-common uses). */
export function shortRosType(type: string): string {
  const parts = type.split('/');
  return parts.length === 3 && parts[1] === 'msg' ? `${parts[0]}/${parts[2]}` : type;
}

/** `sensor_msgs/Imu` → `sensor_msgs/msg/Imu` (the name ROS 2 and MCAP schemas use). */
export function fullRosType(type: string): string {
  const parts = type.split('/');
  return parts.length === 2 ? `${parts[0]}/msg/${parts[1]}` : type;
}

/** True when rosmsg-msgs-common has a definition for this type. */
export function isKnownRosType(type: string, options: { distro?: Ros2Distro } = {}): boolean {
  return definitionsByDistro[options.distro ?? 'jazzy'][shortRosType(type)] !== undefined;
}

/**
 * The root definition of `type` followed by every definition it depends on (depth first, each
 * once), or undefined for a type the bundled definitions do not know. Feed it to MessageWriter/Reader.
 */
export function rosMessageDefinitions(
  type: string,
  options: { distro?: Ros2Distro } = {},
): MessageDefinition[] | undefined {
  const table = definitionsByDistro[options.distro ?? 'jazzy'];
  const rootName = shortRosType(type);
  if (table[rootName] === undefined) return undefined;
  const ordered: MessageDefinition[] = [];
  const seen = new Set<string>();
  const visit = (name: string): boolean => {
    if (seen.has(name)) return true;
    const definition = table[name];
    if (definition === undefined) return false;
    seen.add(name);
    ordered.push({ name, definitions: definition.definitions });
    for (const field of definition.definitions) {
      if (field.isComplex === true && !visit(field.type)) return false;
    }
    return true;
  };
  return visit(rootName) ? ordered : undefined;
}

function fieldTypeText(field: MessageDefinitionField): string {
  let type = builtinTimeTypes[field.type] ?? field.type;
  if (type === 'string' && field.upperBound !== undefined) type = `string<=${field.upperBound}`;
  if (field.isArray !== true) return type;
  if (field.arrayLength !== undefined) return `${type}[${field.arrayLength}]`;
  if (field.arrayUpperBound !== undefined) return `${type}[<=${field.arrayUpperBound}]`;
  return `${type}[]`;
}

function defaultValueText(value: MessageDefinitionField['defaultValue']): string {
  if (Array.isArray(value)) return `[${value.map((v) => String(v)).join(', ')}]`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function definitionText(definition: MessageDefinition): string {
  const lines = definition.definitions.map((field) => {
    if (field.isConstant === true)
      return `${fieldTypeText(field)} ${field.name}=${field.valueText ?? String(field.value)}`;
    const base = `${fieldTypeText(field)} ${field.name}`;
    return field.defaultValue === undefined ? base : `${base} ${defaultValueText(field.defaultValue)}`;
  });
  return `${lines.join('\n')}\n`;
}

function usesBuiltinTime(definitions: readonly MessageDefinition[]): string[] {
  const used = new Set<string>();
  for (const definition of definitions) {
    for (const field of definition.definitions) {
      const builtin = builtinTimeTypes[field.type];
      if (builtin !== undefined && field.isConstant !== true) used.add(builtin);
    }
  }
  return [...used].sort();
}

/** The MCAP `ros2msg` schema text for `type`, dependencies concatenated; undefined if unknown. */
export function ros2msgSchemaText(type: string, options: { distro?: Ros2Distro } = {}): string | undefined {
  const definitions = rosMessageDefinitions(type, options);
  if (definitions === undefined) return undefined;
  const [root, ...dependencies] = definitions;
  if (root === undefined) return undefined;
  const sections = [definitionText(root)];
  for (const dependency of dependencies)
    sections.push(`${separator}MSG: ${dependency.name ?? ''}\n${definitionText(dependency)}`);
  for (const builtin of usesBuiltinTime(definitions))
    sections.push(`${separator}MSG: ${builtin}\n${builtinTimeText[builtin] ?? ''}`);
  return sections.join('');
}

/** The StreamSchema (ros2msg + cdr) for a bundled ROS 2 type; undefined if the type is unknown. */
export function rosStreamSchema(
  type: string,
  options: { distro?: Ros2Distro } = {},
): StreamSchema | undefined {
  const text = ros2msgSchemaText(type, options);
  if (text === undefined) return undefined;
  return {
    name: fullRosType(type),
    encoding: 'ros2msg',
    data: new TextEncoder().encode(text),
    messageEncoding: 'cdr',
  };
}

/** A permissive JSON Schema for a json stream whose `type` is its schema id. */
export function jsonStreamSchema(type: string): StreamSchema {
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: type,
    title: type,
    type: 'object',
  };
  return {
    name: type,
    encoding: 'jsonschema',
    data: new TextEncoder().encode(JSON.stringify(schema)),
    messageEncoding: 'json',
  };
}

/** True when a message of this type starts with a std_msgs/Header (so its stamp is at CDR offset 4). */
export function startsWithHeader(type: string, options: { distro?: Ros2Distro } = {}): boolean {
  const first = definitionsByDistro[options.distro ?? 'jazzy'][shortRosType(type)]?.definitions.find(
    (f) => f.isConstant !== true,
  );
  return first?.type === 'std_msgs/Header' && first.isArray !== true;
}

/**
 * The header stamp (ns since epoch) of a CDR message that starts with std_msgs/Header, or
 * undefined when the buffer is too short or the stamp is not a valid time (negative seconds,
 * nanoseconds ≥ 1e9). Reads only the first 12 bytes.
 */
export function cdrHeaderStampNs(data: Uint8Array): bigint | undefined {
  if (data.byteLength < 12) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  // Byte 1 of the encapsulation header: odd = little endian (CDR_LE 0x01, PL_CDR_LE 0x03, …).
  const littleEndian = (data[1] ?? 0) % 2 === 1;
  const sec = view.getInt32(4, littleEndian);
  const nanosec = view.getUint32(8, littleEndian);
  // A negative time would wrap to a huge uint64 in MCAP and break the file's index.
  if (sec < 0 || nanosec >= 1_000_000_000) return undefined;
  return BigInt(sec) * 1_000_000_000n + BigInt(nanosec);
}
