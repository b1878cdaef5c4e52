// `rigcap selftest [--json]`: named checks that the device can capture safely. Each check is one
// entry in `selfTestChecks`; later checks (keys, disk, clocks) are appended to the same list.
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, fsyncSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../config/load.ts';
import { RigcapError, errnoCode, isRigcapError } from '../errors.ts';
import { KeyStore } from '../keys/key-store.ts';
import { loadDatagramSender } from '../ops/sd-notify.ts';
import { silentLogger } from '../log.ts';
import { generateKeyPair, nobleVerify, nodeSigner, rawOfSpki, verifySignature } from '../records/ed25519.ts';
import { createClockStateTracker } from '../timesync/index.ts';
import type { RigcapConfig } from '../config/types.ts';
import { parseFlags } from './args.ts';
import { configPath } from './ops-url.ts';
import { loadLocalRedactor } from '../deid/local-redactor.ts';
import { defaultDeidConfig } from '../deid/params.ts';
import { runDeidSelfTest } from '../deid/selftest.ts';
import { describeProvider } from '../deid/providers.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

/** What a check may look at: the CLI streams and the config, when one was given or installed. */
export interface SelfTestContext {
  readonly io: CliIO;
  readonly config: Readonly<RigcapConfig> | undefined;
}

/** One named check: resolves with a one-line detail, or throws (a RigcapError says what to do). */
export interface SelfTestCheck {
  readonly name: string;
  run(ctx: SelfTestContext): Promise<string>;
}

/** The checks `rigcap selftest` runs, in order. */
export const selfTestChecks: SelfTestCheck[] = [
  {
    name: 'deid-models',
    async run({ config }) {
      const redactor = await loadLocalRedactor({ config: config?.deid ?? defaultDeidConfig });
      const result = await runDeidSelfTest((jpeg) =>
        redactor.redact({ encoding: 'jpeg', schemaRef: '', data: jpeg }),
      );
      const models = redactor.specs.map((s) => `${s.name}@${s.sha256.slice(0, 12)}`).join(', ');
      const provider = describeProvider(redactor.detector.provider);
      return `${models} loaded on ${provider}; test image: ${result.faces} face(s), ${result.plates} plate(s) in ${Math.round(result.ms)} ms`;
    },
  },
  {
    name: 'keys',
    async run({ config }) {
      const message = randomBytes(64);
      let signer;
      let where;
      if (config === undefined) {
        signer = nodeSigner(generateKeyPair().privateKeyPem);
        where = 'ephemeral key (no config given)';
      } else {
        const store = new KeyStore({
          keysDir: config.keys.dir,
          rootDir: config.spool.dir,
          signerId: config.rig.id,
          log: silentLogger(),
        });
        if (!(await store.exists()))
          throw new RigcapError(
            'RIGCAP_KEY_MISSING',
            `no device key at ${store.privateKeyPath}; run \`rigcap keys init\``,
          );
        signer = await store.load();
        where = `device key ${signer.keyId.slice(0, 16)}`;
      }
      const signature = signer.sign(message);
      const raw = rawOfSpki(signer.publicKeySpki);
      // Both implementations must accept the signature: node:crypto signs, @noble/ed25519 is the portable check.
      if (
        !verifySignature(signer.publicKeySpki, message, signature) ||
        raw === undefined ||
        !(await nobleVerify(raw, message, signature))
      ) {
        throw new RigcapError('RIGCAP_KEY_PERMISSIONS', 'the key signs but its signature does not verify');
      }
      return `${where} signs and verifies (node:crypto and @noble/ed25519)`;
    },
  },
  {
    name: 'disk',
    async run({ config }) {
      const dir = config?.spool.dir ?? tmpdir();
      const probe = join(dir, `.selftest-${process.pid}`);
      try {
        mkdirSync(dir, { recursive: true });
        const fd = openSync(probe, 'w', 0o600);
        writeSync(fd, randomBytes(4096));
        fsyncSync(fd);
        closeSync(fd);
        rmSync(probe);
      } catch (err) {
        throw new RigcapError('RIGCAP_SPOOL_UNWRITABLE', `${dir}: ${errnoCode(err) ?? String(err)}`, {
          cause: err,
        });
      }
      return `${dir} writable (write, fsync, remove)`;
    },
  },
  {
    // The catalog's SQLite binding is native (V8 ABI): prove it loads and writes on this machine.
    name: 'sqlite',
    async run() {
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(':memory:');
      try {
        db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)');
        const row = db.prepare('SELECT x, sqlite_version() AS v FROM t').get() as { x: number; v: string };
        if (row.x !== 42)
          throw new RigcapError('RIGCAP_CATALOG_CORRUPT', 'SQLite read back a different value');
        return `better-sqlite3 loads (SQLite ${row.v}), writes and reads`;
      } finally {
        db.close();
      }
    },
  },
  {
    // systemd readiness and the watchdog go through this native addon; a datagram to a socket
    // that does not exist must come back as -ENOENT, which proves the addon loads and calls.
    name: 'sd-notify',
    async run() {
      const sender = loadDatagramSender();
      const rc = sender.send(
        join(tmpdir(), `rigcap-selftest-${process.pid}-absent.sock`),
        Buffer.from('STATUS=selftest'),
      );
      if (rc >= 0)
        throw new RigcapError(
          'RIGCAP_SD_NOTIFY_UNAVAILABLE',
          'the addon reported sending to a socket that does not exist',
        );
      return `sd_notify addon loads and sends (answered ${rc} for an absent socket)`;
    },
  },
  {
    name: 'clocks',
    async run({ config }) {
      const wall = Date.now();
      const mono = process.hrtime.bigint();
      if (!Number.isFinite(wall) || wall < Date.UTC(2020, 0, 1) || mono <= 0n) {
        throw new RigcapError(
          'RIGCAP_TIMESYNC_UNREADABLE',
          `the wall clock reads ${new Date(wall).toISOString()}; set the time before capturing`,
        );
      }
      const timesync = config?.timesync ?? {
        chrony: true,
        ptp: false,
        sampleIntervalMs: 1000,
        lockedMaxOffsetNs: 1_000_000,
        chronycPath: 'chronyc',
        pmcPath: 'pmc',
      };
      const tracker = createClockStateTracker(timesync, { logger: silentLogger() });
      try {
        const sample = await tracker.sampleOnce();
        return `wall ${new Date(wall).toISOString()}, monotonic ok; sync ${sample.state} via ${sample.source} (${sample.reason})`;
      } finally {
        await tracker.close();
      }
    },
  },
];

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  code?: string;
}

const command: Command = {
  name: 'selftest',
  summary: 'check models, keys, disk and clocks before capture',
  usage:
    'usage: rigcap selftest [--config FILE] [--json]\n\nRuns every self-check (de-id models, keys, disk, clocks); exits 1 if any fails.',
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values } = parseFlags('selftest', argv, {
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
    });
    const json = values.json;
    const file = configPath(values, io);
    const ctx: SelfTestContext = { io, config: file === undefined ? undefined : loadConfigFile(file).config };
    const results: CheckResult[] = [];
    for (const check of selfTestChecks) {
      try {
        results.push({ name: check.name, ok: true, detail: await check.run(ctx) });
      } catch (err) {
        const code = isRigcapError(err) ? err.code : 'RIGCAP_INTERNAL';
        const detail = isRigcapError(err) ? `${err.message} (fix: ${err.hint})` : String(err);
        results.push({ name: check.name, ok: false, detail, code });
      }
    }
    const ok = results.every((r) => r.ok);
    if (json) io.stdout.write(`${JSON.stringify({ ok, checks: results })}\n`);
    else
      for (const r of results)
        io.stderr.write(
          `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.code === undefined ? '' : `${r.code}: `}${r.detail}\n`,
        );
    return ok ? ExitCode.ok : ExitCode.failed;
  },
};

export default command;
