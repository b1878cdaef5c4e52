// The daemon around the Agent: ops endpoint (status page, /status.json, /metrics, marks), the
// ZeroMQ control socket, sd_notify READY/STATUS/WATCHDOG/STOPPING, and the shutdown order:
// watchdog off → STOPPING=1 → agent stop (intake, drain, seal, session close, catalog) → ops close.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentOptions } from './agent.ts';
import { RigcapError, errnoCode } from './errors.ts';
import type { Logger } from './log.ts';
import { OpsHttpServer } from './ops/http.ts';
import { markMetadata, MarkerInbox } from './ops/markers.ts';
import { AgentMetrics } from './ops/metrics.ts';
import { SdNotifier } from './ops/sd-notify.ts';
import type { AgentSnapshot } from './ops/snapshot.ts';
import { Watchdog, counterProgress, watchdogIntervalMs } from './ops/watchdog.ts';
import { ZmqMarkerControl } from './ops/zmq-control.ts';
import { agentSnapshot, type SyncView } from './snapshot.ts';
import { RateMeter } from './pipeline/ledger.ts';
import { Catalog } from './catalog/catalog.ts';
import { RetentionSweeper } from './sync/retention.ts';
import { storePinOf } from './sync/store-pin.ts';
import { openSyncService, type SyncService } from './sync/sync-service.ts';

export interface DaemonOptions extends Omit<AgentOptions, 'onReady'> {
  env: NodeJS.ProcessEnv;
  /** Supplies the sync engine's view when sync runs in this process. */
  syncView?: () => SyncView | undefined;
  /** Overrides `ops.listen` ('' disables the endpoint). */
  listen?: string;
}

/** Agent plus its operational surface; `start`, then `stop` once. */
export class Daemon {
  readonly agent: Agent;
  readonly markers: MarkerInbox;
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  readonly #notifier: SdNotifier;
  #http: OpsHttpServer | undefined;
  #control: ZmqMarkerControl | undefined;
  #watchdog: Watchdog | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #sync: SyncService | undefined;
  /** Sync's own handle on the catalog, closed after sync stops (the agent closes its handle first). */
  #syncCatalog: Catalog | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  readonly #goodput = new RateMeter();
  /** URL of the ops endpoint once listening. */
  url: string | undefined;

  constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'daemon' });
    this.#notifier = SdNotifier.fromEnv(opts.env, opts.log);
    this.agent = new Agent({ ...opts, onReady: () => this.#ready() });
    this.markers = new MarkerInbox({ log: opts.log });
    this.markers.onMark(async (mark) => {
      await this.agent.addMarker({
        id: mark.id,
        text: mark.text,
        tags: mark.tags,
        wallNs: mark.wallNs,
        monoNs: mark.monoNs,
        ...(mark.operator === undefined ? {} : { operator: mark.operator }),
        metadata: toChunkMetadata(markMetadata(mark)),
      });
    });
  }

  /** The current AgentSnapshot. */
  snapshot(): AgentSnapshot {
    return agentSnapshot(this.agent, this.#opts.syncView?.() ?? this.#syncView());
  }

  /** The sync engine, when `sync.enabled`. */
  get sync(): SyncService | undefined {
    return this.#sync;
  }

  #syncView(): SyncView | undefined {
    if (this.#sync === undefined) return undefined;
    const b = this.#sync.backlog();
    return {
      backlogChunks: b.chunks,
      backlogBytes: b.bytes,
      etaSeconds: b.etaSeconds,
      lastReceiptAt: b.lastReceipt === null ? null : new Date(b.lastReceipt.syncedMs).toISOString(),
      goodputBytesPerSec: Math.round(
        this.#goodput.rate(this.#sync.client.stats.bytesConfirmed, Date.now(), 2000),
      ),
      blocked: b.blocked,
    };
  }

  /** Starts sync (records and chunks to the store) and the retention sweep. */
  #startSync(): void {
    const { config, log } = this.#opts;
    const byTopic = new Map(config.streams.map((s) => [s.topic, s.priority]));
    this.#syncCatalog = Catalog.open({ path: join(config.spool.dir, 'catalog.sqlite'), logger: log });
    const ledger = this.#syncCatalog.syncLedger();
    this.#sync = openSyncService({
      sync: config.sync,
      spoolDir: config.spool.dir,
      log,
      ledger,
      streamPriority: (topic) => byTopic.get(topic),
      signer: () => this.agent.sealer?.signer,
    });
    this.#sync.scheduler.start({ intervalMs: 2000 });
    const sealer = this.agent.sealer;
    if (sealer === undefined) return;
    const sweeper = new RetentionSweeper({
      ledger,
      spoolDir: config.spool.dir,
      retentionDays: config.policy.retentionDays,
      recorder: sealer,
      log,
    });
    const sweep = (): void => {
      sweeper.sweep().catch((err: unknown) => log.error({ err }, 'retention sweep failed'));
    };
    this.#retentionTimer = setInterval(sweep, 10 * 60_000);
    this.#retentionTimer.unref();
  }

  /**
   * Starts ops endpoints first (so status works during start-up), then capture. On any failure
   * (or an abort) everything opened so far is released before the error is rethrown.
   */
  async start(signal: AbortSignal): Promise<void> {
    try {
      await this.#start(signal);
    } catch (err) {
      await this.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async #start(signal: AbortSignal): Promise<void> {
    const { config } = this.#opts;
    const listen = this.#opts.listen ?? config.ops.listen;
    if (listen !== '') {
      const metrics = new AgentMetrics({ snapshot: () => this.snapshot() });
      this.#http = new OpsHttpServer({
        listen,
        log: this.#opts.log,
        snapshot: () => this.snapshot(),
        metrics,
        markers: this.markers,
      });
      this.url = (await this.#http.start()).url;
    }
    signal.throwIfAborted();
    if (config.ops.controlEndpoint !== '') {
      this.#control = new ZmqMarkerControl({
        endpoint: config.ops.controlEndpoint,
        inbox: this.markers,
        log: this.#opts.log,
      });
      await this.#control.start();
    }
    signal.throwIfAborted();
    // Files sync reads at its start, and the store key it pins, are checked before capture starts.
    if (config.sync.enabled) {
      checkSyncFiles(config.sync);
      storePinOf(config.sync);
    }
    await this.agent.start(signal);
    if (config.sync.enabled) this.#startSync();
    this.#statusTimer = setInterval(() => this.#notifier.status(statusLine(this.snapshot())), 10_000);
    this.#statusTimer.unref();
  }

  #ready(): void {
    this.#notifier.ready(`capturing ${this.#opts.config.streams.length} streams`);
    this.#log.info({ streams: this.#opts.config.streams.length }, 'ready');
    const intervalMs = watchdogIntervalMs(this.#opts.env);
    if (intervalMs !== undefined && this.#opts.config.ops.watchdog) {
      // Progress = samples written or a heartbeat of an idle rig; a stuck writer stops both.
      let idleTicks = 0;
      const written = counterProgress(() => this.agent.progress);
      this.#watchdog = new Watchdog({
        notifier: this.#notifier,
        intervalMs,
        log: this.#opts.log,
        progress: () => {
          if (written()) {
            idleTicks = 0;
            return true;
          }
          idleTicks += 1;
          return this.agent.queuesEmpty() && idleTicks < 1_000_000;
        },
      });
      this.#watchdog.start();
    }
  }

  /** Ordered shutdown; bounded by `timeoutMs`. */
  async stop(options: { timeoutMs?: number; reason?: string } = {}): Promise<void> {
    this.#watchdog?.stop();
    if (this.#statusTimer !== undefined) clearInterval(this.#statusTimer);
    this.#notifier.stopping('draining queues and sealing the open chunk');
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    try {
      await this.agent.stop(options);
    } finally {
      // Sync stops after the last chunk is sealed; what it did not send stays in the backlog.
      await this.#sync
        ?.close()
        .catch((err: unknown) => this.#log.error({ err }, 'sync did not close cleanly'));
      this.#syncCatalog?.close();
      await this.#control?.close();
      await this.#http?.close();
    }
  }

  /** Abandons everything now; each part is released even when another fails to. Idempotent. */
  async destroy(err?: Error): Promise<void> {
    this.#watchdog?.stop();
    if (this.#statusTimer !== undefined) clearInterval(this.#statusTimer);
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    const released = await Promise.allSettled([
      this.agent.destroy(err),
      this.#sync?.destroy(err),
      this.#control?.close(),
      this.#http?.close(),
    ]);
    this.#syncCatalog?.close();
    for (const r of released)
      if (r.status === 'rejected')
        this.#log.warn({ err: r.reason as unknown }, 'release failed during destroy');
  }
}

/** Fails with RIGCAP_CONFIG_UNREADABLE when a file named in `sync:` cannot be read. */
function checkSyncFiles(sync: { caFile: string; storeKeyFile: string; storeKey: string }): void {
  for (const [key, path] of [
    ['sync.caFile', sync.caFile],
    ['sync.storeKeyFile', sync.storeKeyFile],
    // A keyid is not a file.
    ['sync.storeKey', /^[0-9a-f]{64}$/.test(sync.storeKey) ? '' : sync.storeKey],
  ] as const) {
    if (path === '') continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw new RigcapError(
        'RIGCAP_CONFIG_UNREADABLE',
        `${key} ${path} cannot be read (${errnoCode(err) ?? String(err)})`,
        { cause: err, details: { key, path } },
      );
    }
  }
}

function toChunkMetadata(m: { name: string; metadata: Map<string, string> }): {
  name: string;
  metadata: Record<string, string>;
} {
  return { name: m.name, metadata: Object.fromEntries(m.metadata) };
}

/** One line for systemd's STATUS=: rates, drops, backlog. */
export function statusLine(s: AgentSnapshot): string {
  const rate = s.streams.reduce((n, x) => n + x.ratePerSec, 0);
  const drops = s.streams.reduce((n, x) => n + Object.values(x.drops).reduce((a, b) => a + b, 0), 0);
  return `${s.streams.length} streams, ${rate.toFixed(0)} msg/s, ${drops} dropped, clock ${s.clock.state}, backlog ${s.sync.backlogChunks} chunks`;
}
