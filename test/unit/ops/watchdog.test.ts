import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { SdNotifier, encodeNotifyMessage, type DatagramSender } from '../../../agent/ops/sd-notify.ts';
import { Watchdog, counterProgress, watchdogIntervalMs } from '../../../agent/ops/watchdog.ts';

describe('watchdog', () => {
  it('pings at half of WATCHDOG_USEC, only for this process', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 2)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '2' }, 2)).toBe(15_000);
    expect(watchdogIntervalMs({})).toBeUndefined();
  });

  it('withholds WATCHDOG=1 while the pipeline does not advance', () => {
    let count = 0;
    let pings = 0;
    const dog = new Watchdog({
      notifier: { watchdog: () => (pings += 1) > 0 },
      intervalMs: 10,
      log: silentLogger(),
      progress: counterProgress(() => count),
    });
    count += 1;
    dog.tick();
    dog.tick(); // no progress since the last look
    count += 5;
    dog.tick();
    expect(pings).toBe(2);
    expect(dog.pings).toBe(2);
  });
});

describe('SdNotifier', () => {
  it('encodes fields as KEY=VALUE lines and is a no-op without NOTIFY_SOCKET', () => {
    expect(encodeNotifyMessage({ READY: 1, STATUS: 'two\nlines' }).toString()).toBe(
      'READY=1\nSTATUS=two lines',
    );
    expect(SdNotifier.fromEnv({}, silentLogger()).ready('x')).toBe(false);
  });

  it('reports a failed send without throwing', () => {
    const sent: string[] = [];
    const sender: DatagramSender = {
      send: (path, msg) => (sent.push(`${path} ${msg.toString()}`), path === '/ok' ? 0 : -111),
    };
    expect(new SdNotifier({ socketPath: '/ok', log: silentLogger(), sender }).stopping('bye')).toBe(true);
    expect(new SdNotifier({ socketPath: '/refused', log: silentLogger(), sender }).watchdog()).toBe(false);
    expect(sent).toEqual(['/ok STOPPING=1\nSTATUS=bye', '/refused WATCHDOG=1']);
  });
});
