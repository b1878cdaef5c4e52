// The status page in a real headless Chromium: what an operator sees (a stream's rate, a drop cause,
// an error code) and that it updates live. Screenshot: test-output/ops/status-page.png.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { OpsHttpServer } from '../../../agent/ops/http.ts';
import { MarkerInbox } from '../../../agent/ops/markers.ts';
import { AgentMetrics } from '../../../agent/ops/metrics.ts';
import { fakeSnapshot } from '../../fixtures/ops/fake-snapshot.ts';

const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const outDir = join(import.meta.dirname, '..', '..', '..', 'test-output', 'ops');

describe.skipIf(!haveChromium)('status page in a browser', () => {
  let tick = 0;
  const log = silentLogger();
  const snapshot = (): ReturnType<typeof fakeSnapshot> => fakeSnapshot(tick);
  const server = new OpsHttpServer({
    listen: '127.0.0.1:0',
    log,
    snapshot,
    metrics: new AgentMetrics({ snapshot }),
    markers: new MarkerInbox({ log }),
  });
  let browser: Browser;
  let url = '';

  beforeAll(async () => {
    url = (await server.start()).url;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server.close();
  });

  it('shows streams, drops, clock, calibration, disk, backlog and error codes, and updates live', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(url)) external.push(req.url());
    });
    await page.goto(url);
    const camera = page.locator('tr[data-stream="front_camera"]');
    await camera.locator('td.rate').filter({ hasText: '29.5 /s' }).waitFor();
    expect(await camera.locator('td.drops').innerText()).toMatch(/queue_full: 12[\s\S]*deid_backpressure: 3/);
    expect(await page.locator('tr[data-stream="imu"] td.drops').innerText()).toBe('0');
    expect(await page.locator('#clock-state').innerText()).toBe('holdover');
    expect(await page.locator('#calib-version').innerText()).toBe('rig-7@2025-03-14');
    expect(await page.locator('#disk-detail').innerText()).toContain('48.0 GiB of 64.0 GiB budget');
    expect(await page.locator('#sync-backlog').innerText()).toContain('9.0 GiB · 37 chunks');
    expect(await page.locator('#sync-detail').innerText()).toContain('ETA 1h 30m');
    expect(await page.locator('#errors').innerText()).toContain('RIGCAP_DISK_FULL');
    // Losses are not a footnote: the camera's row says how much it lost, and a banner names it.
    expect(await camera.locator('td.lost').innerText()).toBe('15 (<0.1%)');
    expect(await camera.getAttribute('class')).toBe('losing');
    expect(await page.locator('#losses').innerText()).toContain(
      'front_camera lost 15 (<0.1%) · queue_full 12 · deid_backpressure 3',
    );
    expect(await page.locator('#losses').innerText()).not.toContain('imu');
    expect(await page.locator('tr[data-stream="imu"] td.lost').innerText()).toBe('0');
    // The de-id tile shows what it blurs now and turns amber while frames are dropped.
    expect(await page.locator('#deid-fps').innerText()).toBe('8.7 fps blurred');
    expect(await page.locator('#deid-tile').getAttribute('class')).toBe('tile-warn');
    expect(await page.locator('#deid-reason').innerText()).toBe('dropping 4% of frames');
    expect(await page.locator('#deid-detail').innerText()).toContain('last 10 s · 12 of 300 frames dropped');

    tick = 10;
    await camera.locator('td.rate').filter({ hasText: '39.5 /s' }).waitFor();
    expect(external).toEqual([]);
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, 'status-page.png'), fullPage: true });
    expect(existsSync(join(outDir, 'status-page.png'))).toBe(true);
  });
});

if (!haveChromium)
  describe('status page in a browser (skipped)', () => {
    it.skip(`${chromiumPath} is missing: apt-get install chromium to run this test`, () => {});
  });
