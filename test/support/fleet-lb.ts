// One address in front of several receivers, as a TCP load balancer puts it: each new connection
// goes to the next backend in turn, skipping one that refuses the connection, with no stickiness.
// A connection whose backend dies is cut, as a real balancer cuts it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A running balancer. */
export interface FleetBalancer {
  readonly url: string;
  /** Connections handed to each backend so far (by backend port). */
  readonly connections: Map<number, number>;
  close(): Promise<void>;
}

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

async function firstLive(ports: readonly number[], start: number): Promise<{ socket: Socket; port: number }> {
  let last: unknown;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[(start + i) % ports.length]!;
    try {
      return { socket: await connectTo(port), port };
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error('no backend answered');
}

/** Listens on a free loopback port and spreads connections over `ports` round-robin. */
export async function startBalancer(ports: readonly number[]): Promise<FleetBalancer> {
  let turn = 0;
  const open = new Set<Socket>();
  const connections = new Map<number, number>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    client.on('close', () => open.delete(client));
    firstLive(ports, turn++).then(
      ({ socket, port }) => {
        connections.set(port, (connections.get(port) ?? 0) + 1);
        open.add(socket);
        socket.on('close', () => open.delete(socket));
        socket.on('error', () => client.destroy());
        client.on('close', () => socket.destroy());
        socket.on('close', () => client.destroy());
        client.pipe(socket);
        socket.pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    async close(): Promise<void> {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
