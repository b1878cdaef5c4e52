// The rigcap version, read once from package.json (records carry it as producer.rigcapVersion).
import pkg from '../package.json' with { type: 'json' };

export const rigcapVersion: string = (pkg as { version: string }).version;
