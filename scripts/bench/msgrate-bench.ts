// Message-rate benchmark: the full agent (ZeroMQ driver → queue → ChunkWriter → seal) receiving
// small messages, against a raw ZeroMQ PULL loop receiving the same messages, in one run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pull, Push } from 'zeromq';
import { encodeFrame } from '../../drivers/zmq/frame.ts';
import { Agent } from '../../agent/agent.ts';
import { parseConfig } from '../../agent/config/load.ts';
import type { Logger } from '../../agent/log.ts';

export interface MsgRateResult {
  agentMsgPerSec: number;
  rawMsgPerSec: number;
  ratio: number;
  messages: number;
}

const topic = '/bench/bytes';

async function publish(endpoint: string, messages: number, payload: Uint8Array): Promise<Push> {
  const push = new Push({ sendHighWaterMark: 100_000, linger: 0 });
  push.connect(endpoint);
  void (async () => {
    for (let seq = 0; seq < messages; seq++) {
      await push.send(
        encodeFrame(
          topic,
          {
            seq,
            captureNs: BigInt(Date.now()) * 1_000_000n,
            encoding: 'cdr',
            type: 'std_msgs/msg/UInt8MultiArray',
            latched: false,
          },
          payload,
        ),
      );
    }
  })();
  return push;
}

async function rawRun(messages: number, payload: Uint8Array): Promise<number> {
  const pull = new Pull({ receiveHighWaterMark: 100_000, linger: 0 });
  await pull.bind('tcp://127.0.0.1:*');
  const push = await publish(pull.lastEndpoint!, messages, payload);
  let received = 0;
  let startNs = 0n;
  for await (const frames of pull) {
    if (received === 0) startNs = process.hrtime.bigint();
    // The raw baseline still touches what the agent must: the three frames.
    if (frames.length === 3) received++;
    if (received >= messages) break;
  }
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  push.close();
  pull.close();
  return (messages - 1) / seconds;
}

async function agentRun(dir: string, messages: number, payload: Uint8Array, log: Logger): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const endpoint = `tcp://127.0.0.1:${port}`;
  const { config, digest } = parseConfig(
    JSON.stringify({
      version: 1,
      rig: { id: 'bench' },
      spool: { dir: join(dir, 'spool') },
      keys: { dir: join(dir, 'secrets') },
      streams: [
        {
          name: 'bytes',
          driver: 'zmq',
          endpoint,
          socket: 'pull',
          bind: true,
          topic,
          type: 'std_msgs/msg/UInt8MultiArray',
          queue: { size: 100_000 },
        },
      ],
      chunking: { maxBytes: '64MiB', maxDurationMs: 600_000 },
      timesync: { chrony: false, ptp: false },
      deid: { enabled: false },
      ops: { listen: '', heartbeatIntervalMs: 3_600_000 },
    }),
    { baseDir: dir },
  );
  const agent = new Agent({ config, configDigest: digest, log });
  await agent.start(AbortSignal.timeout(60_000));
  const push = await publish(endpoint, messages, payload);
  let startNs = 0n;
  while (true) {
    const written = agent.ledger.totals().get('bytes')?.written ?? 0;
    if (written > 0 && startNs === 0n) startNs = process.hrtime.bigint();
    if (written >= messages) break;
    await new Promise((r) => setImmediate(r));
  }
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  push.close();
  await agent.stop();
  return (messages - 1) / seconds;
}

/** Agent msg/s over raw ZeroMQ receive msg/s for `messages` messages of `payloadBytes`, best of `rounds`. */
export async function benchMsgRate(options: {
  messages: number;
  payloadBytes: number;
  rounds?: number;
  log: Logger;
}): Promise<MsgRateResult> {
  const payload = new Uint8Array(options.payloadBytes).map((_, i) => i & 0xff);
  let raw = 0;
  let agent = 0;
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-bench-msgrate-'));
  try {
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      raw = Math.max(raw, await rawRun(options.messages, payload));
      agent = Math.max(
        agent,
        await agentRun(join(dir, String(round)), options.messages, payload, options.log),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { agentMsgPerSec: agent, rawMsgPerSec: raw, ratio: agent / raw, messages: options.messages };
}
