// `rigcap keys init|show|rotate|revoke`: the device key lifecycle. Every change is a device-key
// record signed into the chain (enrolment, rotation signed by the old key, revocation from a seq).
import { RigcapError } from '../errors.ts';
import { loadConfigFile } from '../config/load.ts';
import { silentLogger } from '../log.ts';
import { KeyStore, RecordSealer } from '../keys/index.ts';
import { keyIdOf } from '../records/index.ts';
import { intFlag, parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import { resolve } from 'node:path';

const usage = `usage: rigcap keys init|show|rotate|revoke [--config FILE | --keys DIR --spool DIR --device ID] [--json]

  init                      create the device key (0600 in a 0700 folder) and sign its enrolment
  show                      current keyid, every public key used (oldest first), chain head
  rotate                    new key; the rotation record is signed by the old key
  revoke --keyid K --from-seq N [--reason TEXT]
                            records signed by K from seq N on are invalid (revoking the current key rotates first)

  --config FILE   take keys.dir, spool.dir and rig.id from a rigcap config
  --keys DIR      private key folder (never inside the spool)
  --spool DIR     spool root (public keys go to DIR/keys/<device>.pub.pem)
  --device ID     device (signer) id`;

interface Target {
  keysDir: string;
  rootDir: string;
  signerId: string;
}

function target(
  values: {
    config?: string | undefined;
    keys?: string | undefined;
    spool?: string | undefined;
    device?: string | undefined;
  },
  io: CliIO,
): Target {
  if (values.config !== undefined) {
    const { config } = loadConfigFile(resolve(io.cwd, values.config));
    return { keysDir: config.keys.dir, rootDir: config.spool.dir, signerId: config.rig.id };
  }
  if (values.keys === undefined || values.spool === undefined || values.device === undefined) {
    throw new RigcapError(
      'RIGCAP_USAGE',
      'rigcap keys: pass --config FILE, or all of --keys DIR --spool DIR --device ID',
    );
  }
  return {
    keysDir: resolve(io.cwd, values.keys),
    rootDir: resolve(io.cwd, values.spool),
    signerId: values.device,
  };
}

const command: Command = {
  name: 'keys',
  summary: 'device key lifecycle: init, show, rotate, revoke (signed into the chain)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('keys', argv, {
      config: { type: 'string' },
      keys: { type: 'string' },
      spool: { type: 'string' },
      device: { type: 'string' },
      keyid: { type: 'string' },
      'from-seq': { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    });
    const action = positionals[0];
    if (positionals.length !== 1 || !['init', 'show', 'rotate', 'revoke'].includes(action ?? '')) {
      throw new RigcapError('RIGCAP_USAGE', 'rigcap keys: expected one of init, show, rotate, revoke');
    }
    const t = target(values, io);
    const log = silentLogger();
    const store = new KeyStore({ ...t, log });
    if (action === 'init' && (await store.exists()))
      throw new RigcapError('RIGCAP_KEY_EXISTS', `${store.privateKeyPath} already exists`);
    const sealer = await RecordSealer.open({
      ...t,
      log,
      keyPolicy: action === 'init' ? 'create-if-missing' : 'require-existing',
    });
    let result: Record<string, unknown> = {};
    try {
      if (action === 'rotate') {
        result = await sealer.rotateKey();
      } else if (action === 'revoke') {
        if (values.keyid === undefined || !/^[0-9a-f]{64}$/.test(values.keyid))
          throw new RigcapError('RIGCAP_USAGE', 'rigcap keys revoke: --keyid must be a 64-hex keyid');
        const fromSeq = intFlag('keys', 'from-seq', values['from-seq'], 0);
        if (fromSeq < 1)
          throw new RigcapError('RIGCAP_USAGE', 'rigcap keys revoke: --from-seq N (N ≥ 1) is required');
        const sealed = await sealer.revokeKey({
          keyId: values.keyid,
          invalidFromSeq: fromSeq,
          reason: values.reason ?? '',
        });
        result = { revoked: values.keyid, fromSeq, seq: sealed.seq };
      }
    } finally {
      await sealer.close();
    }
    const summary = {
      action,
      device: t.signerId,
      keyId: sealer.keyId,
      publicKeys: (await store.publicKeys()).map((k) => keyIdOf(k)),
      publicKeysFile: store.publicKeysPath,
      headSeq: sealer.headSeq,
      ...result,
    };
    if (values.json === true) writeJson(io.stdout, summary);
    else
      io.stdout.write(
        `${Object.entries(summary)
          .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
          .join('\n')}\n`,
      );
    return ExitCode.ok;
  },
};

export default command;
