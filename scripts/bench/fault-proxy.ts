// A TCP proxy that breaks links on purpose: connection resets, stalls, truncated requests and
// 503 answers, armed one at a time, and optionally a fixed delay each way (a long link's RTT).
// Tests and `rigcap bench sync` put it between sync and the store.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One injected failure; `afterBytes` counts client→store bytes from when it is armed. */
export type Fault =
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'stall'; afterBytes: number; ms: number }
  | { kind: 'truncate'; afterBytes: number }
  | { kind: 'http503' };

/** Loopback fault-injecting proxy. */
export class FaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #delayMs: number;
  readonly #sockets = new Set<Socket>();
  #armed: Fault | undefined;
  #armedBytes = 0;
  /** Faults that took effect. */
  fired = 0;
  /** Client→store bytes forwarded. */
  forwardedBytes = 0;

  private constructor(server: Server, target: { host: string; port: number }, delayMs: number) {
    this.#server = server;
    this.#target = target;
    this.#delayMs = delayMs;
  }

  /** Starts listening on 127.0.0.1 (free port). */
  static async start(options: {
    targetHost: string;
    targetPort: number;
    port?: number;
    /** Delay added to every byte in each direction (RTT grows by twice this). Default 0. */
    delayMs?: number;
  }): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(
      server,
      { host: options.targetHost, port: options.targetPort },
      options.delayMs ?? 0,
    );
    server.on('connection', (s) => proxy.#onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Arms the next fault (replacing an unfired one). */
  inject(fault: Fault): void {
    this.#armed = fault;
    this.#armedBytes = 0;
  }

  /** True while a fault is armed and has not fired. */
  get pending(): boolean {
    return this.#armed !== undefined;
  }

  #onConnection(client: Socket): void {
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => undefined);
    if (this.#armed?.kind === 'http503') {
      this.#armed = undefined;
      this.fired += 1;
      client.once('data', () =>
        client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      );
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    this.#sockets.add(upstream);
    // With a delay, everything that crosses the link (bytes and a peer's close) arrives delayMs
    // later, in order (timers of equal delay fire in the order they were set).
    const later = (fn: () => void): void => {
      if (this.#delayMs <= 0) fn();
      else setTimeout(fn, this.#delayMs);
    };
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      later(() => client.destroy());
    });
    upstream.on('error', () => later(() => client.destroy()));
    client.on('close', () => later(() => upstream.destroy()));
    upstream.on('data', (d: Buffer) => later(() => client.write(d)));
    let stalled = false;
    client.on('data', (d: Buffer) => {
      if (stalled) return;
      const fault = this.#armed;
      if (
        fault !== undefined &&
        fault.kind !== 'http503' &&
        this.#armedBytes + d.length >= fault.afterBytes
      ) {
        const keep = Math.max(0, fault.afterBytes - this.#armedBytes);
        this.#armed = undefined;
        this.fired += 1;
        if (keep > 0) later(() => upstream.write(d.subarray(0, keep)));
        this.forwardedBytes += keep;
        if (fault.kind === 'reset') {
          client.resetAndDestroy();
          later(() => upstream.resetAndDestroy());
        } else if (fault.kind === 'truncate') {
          client.destroy();
          later(() => upstream.end());
        } else {
          // A stalled link: nothing moves until it drops.
          stalled = true;
          setTimeout(() => {
            client.destroy();
            upstream.destroy();
          }, fault.ms).unref();
        }
        return;
      }
      if (fault !== undefined) this.#armedBytes += d.length;
      this.forwardedBytes += d.length;
      later(() => upstream.write(d));
    });
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
