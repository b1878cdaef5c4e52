// The ops endpoint on loopback: status JSON, Prometheus text, markers by HTTP, by `rigcap mark`
// (a real child process) and by the ZeroMQ control socket.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { OpsHttpServer } from '../../../agent/ops/http.ts';
import { MarkerInbox, type EventMark } from '../../../agent/ops/markers.ts';
import { AgentMetrics } from '../../../agent/ops/metrics.ts';
import { ZmqMarkerControl } from '../../../agent/ops/zmq-control.ts';
import { fakeSnapshot } from '../../fixtures/ops/fake-snapshot.ts';
import { waitFor } from '../../support/wait.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const log = silentLogger();
const inbox = new MarkerInbox({ log });
const marks: EventMark[] = [];
inbox.onMark((mark) => void marks.push(mark));
const server = new OpsHttpServer({
  listen: '127.0.0.1:0',
  log,
  snapshot: () => fakeSnapshot(),
  metrics: new AgentMetrics({ snapshot: () => fakeSnapshot() }),
  markers: inbox,
});
let base = '';

function rigcap(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repo, 'bin/rigcap.js'), ...args], {
      env: { ...process.env, RIGCAP_CONFIG: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  base = (await server.start()).url;
});
afterAll(async () => {
  await server.close();
  await server.close();
});

describe('ops HTTP endpoint', () => {
  it('serves the snapshot, the metrics and the page', async () => {
    const status = (await (await fetch(new URL('status.json', base))).json()) as ReturnType<
      typeof fakeSnapshot
    >;
    expect(status.streams[0]?.drops['queue_full']).toBe(12);
    const metrics = await fetch(new URL('metrics', base));
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('rigcap_stream_queue_depth{stream="front_camera"} 4');
    const page = await (await fetch(base)).text();
    expect(page).toContain('<title>rigcap status</title>');
    expect(page).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    expect((await fetch(new URL('nope', base))).status).toBe(404);
  });

  it('accepts a JSON mark and refuses forms and bad marks', async () => {
    const ok = await fetch(new URL('marks', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'lidar occluded', tags: ['lidar'] }),
    });
    expect(ok.status).toBe(201);
    expect(marks.at(-1)).toMatchObject({ text: 'lidar occluded', tags: ['lidar'], source: 'http' });
    const form = await fetch(new URL('marks', base), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"text":"x"}',
    });
    expect(form.status).toBe(415);
    const bad = await fetch(new URL('marks', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"text":""}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('RIGCAP_MARK_INVALID');
  });

  it('rigcap mark reaches the running agent, and says so when none runs', async () => {
    const sent = await rigcap([
      'mark',
      'near miss with forklift',
      '--tag',
      'safety',
      '--tag',
      'aisle:4',
      '--url',
      base,
      '--json',
    ]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({
      ok: true,
      mark: { text: 'near miss with forklift', tags: ['safety', 'aisle:4'] },
    });
    expect(marks.at(-1)?.text).toBe('near miss with forklift');
    const down = await rigcap(['mark', 'nobody listens', '--url', 'http://127.0.0.1:9/']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('RIGCAP_AGENT_UNREACHABLE');
    const usage = await rigcap(['mark']);
    expect(usage.code).toBe(2);
  });
});

describe('ZeroMQ marker control socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rigcap-ctl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns one-frame JSON messages into marks and survives bad ones', async () => {
    const endpoint = `ipc://${join(dir, 'control.sock')}`;
    const control = new ZmqMarkerControl({ endpoint, inbox, log });
    await control.start();
    const push = new Push({ linger: 1000 });
    push.connect(endpoint);
    const before = marks.length;
    await push.send('not json');
    await push.send(JSON.stringify({ type: 'reboot' }));
    await push.send(
      JSON.stringify({
        type: 'mark',
        text: 'planner fallback',
        tags: ['planner'],
        wallNs: '1700000000000000000',
      }),
    );
    await waitFor(() => marks.length > before, {
      what: 'the marker sent over ZeroMQ',
      timeoutMs: 30_000,
      everyMs: 10,
    });
    expect(marks.slice(before)).toHaveLength(1);
    expect(marks.at(-1)).toMatchObject({
      text: 'planner fallback',
      source: 'zmq',
      wallNs: 1_700_000_000_000_000_000n,
    });
    push.close();
    await control.close();
    await control.close();
  });
});
