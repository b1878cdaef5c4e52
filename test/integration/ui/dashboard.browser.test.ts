// The fleet dashboard in a real headless Chromium: fleet, session and chunk pages at desktop and
// phone widths (screenshots under test-output/ui/), reached by keyboard alone, with no console
// error, no request outside the store and no page wider than a phone.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeUiDeps, uiRoutes } from '../../../receiver/ui/routes.ts';
import { buildSimStore, fixtureSessionId, type SimStore } from './sim-store.ts';

const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const outDir = join(import.meta.dirname, '..', '..', '..', 'test-output', 'ui');

const widths = {
  desktop: { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
} as const;

describe.skipIf(!haveChromium)('fleet dashboard in a browser', () => {
  let sim: SimStore;
  let app: FastifyInstance;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    sim = await buildSimStore();
    app = Fastify();
    await app.register(uiRoutes, await storeUiDeps({ root: sim.store }));
    base = await app.listen({ host: '127.0.0.1', port: 0 });
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
    mkdirSync(outDir, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await sim?.remove();
  });

  /** A page that records console errors, page errors and requests leaving the store. */
  async function open(kind: keyof typeof widths): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext(widths[kind]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) problems.push(`external request: ${r.url()}`);
    });
    return { page, problems };
  }

  /** Presses Tab until `selector` has focus (at most `max` times). */
  async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      if ((await page.locator(`${selector}:focus`).count()) === 1) return;
    }
    throw new Error(`Tab never reached ${selector}`);
  }

  it('fleet → session → chunk by keyboard alone at desktop width, with screenshots and no console error', async () => {
    const { page, problems } = await open('desktop');
    await page.goto(`${base}/ui/`);
    // The first Tab lands on the skip link, and it moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').innerText()).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.locator(':focus').getAttribute('id')).toBe('main');
    expect(await page.locator('#devices tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(outDir, 'fleet-desktop.png'), fullPage: true });

    // The filter form works from the keyboard: min score 0 keeps both sessions, the URL carries it.
    await tabTo(page, 'input[name="minScore"]');
    await page.keyboard.type('0');
    await Promise.all([page.waitForURL(/minScore=0/), page.keyboard.press('Enter')]);
    expect(await page.locator('#session-count').innerText()).toMatch(/^2 sessions match/);

    await tabTo(page, `a[href="/ui/sessions/${sim.sessionId}"]`);
    await Promise.all([page.waitForURL(`**/ui/sessions/${sim.sessionId}`), page.keyboard.press('Enter')]);
    expect(await page.locator('h1').innerText()).toBe(`Session ${sim.sessionId}`);
    expect(await page.locator('#verify-result').getAttribute('class')).toBe('ok');
    expect(await page.locator('tr[data-lane="markers"]').count()).toBe(1);
    await page.screenshot({ path: join(outDir, 'session-desktop.png'), fullPage: true });

    await tabTo(page, `a[href="/ui/sessions/${sim.sessionId}/chunks/1"]`, 200);
    await Promise.all([page.waitForURL('**/chunks/1'), page.keyboard.press('Enter')]);
    expect(await page.locator('#chunk-file').innerText()).toBe('hash verified');
    await page.screenshot({ path: join(outDir, 'chunk-desktop.png'), fullPage: true });

    // The fixture device's session: drops, an unsynced clock and chunks not in the store.
    await page.goto(`${base}/ui/sessions/${fixtureSessionId}`);
    expect(await page.locator('#verify-result').getAttribute('class')).toBe('fail');
    await page.screenshot({ path: join(outDir, 'session-gaps-desktop.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  }, 180_000);

  it('at phone width the fleet, session and chunk pages fit the screen, with screenshots and no console error', async () => {
    const { page, problems } = await open('phone');
    const pages = {
      fleet: '/ui/',
      session: `/ui/sessions/${sim.sessionId}`,
      chunk: `/ui/sessions/${sim.sessionId}/chunks/1`,
      'session-gaps': `/ui/sessions/${fixtureSessionId}`,
    };
    for (const [name, path] of Object.entries(pages)) {
      await page.goto(`${base}${path}`);
      // A string is evaluated in the page (this file is compiled without the DOM types).
      const overflow = Number(
        await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
      );
      expect(overflow, `${path} is wider than the phone`).toBeLessThanOrEqual(1);
      await page.screenshot({ path: join(outDir, `${name}-phone.png`), fullPage: true });
    }
    expect(problems).toEqual([]);
    await page.context().close();
    for (const name of ['fleet', 'session', 'chunk'])
      for (const kind of ['desktop', 'phone'])
        expect(existsSync(join(outDir, `${name}-${kind}.png`)), `${name}-${kind}.png`).toBe(true);
  }, 180_000);
});

if (!haveChromium)
  describe('fleet dashboard in a browser (skipped)', () => {
    it.skip(`${chromiumPath} is missing: apt-get install chromium to run this test`, () => {});
  });
