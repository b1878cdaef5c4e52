// StreamLedger rates: measured from a stream's first sample, so the first look (the daemon's first
// STATUS= line, or the first status page load) already shows the rate.
import { describe, expect, it } from 'vitest';
import { RateMeter, StreamLedger } from '../../../agent/pipeline/ledger.ts';

describe('StreamLedger.ratePerSec', () => {
  it('reports the rate since the first sample on the first look', () => {
    let now = 1_000;
    const ledger = new StreamLedger({ nowMs: () => now });
    ledger.received('imu');
    for (let i = 0; i < 2_000; i++) ledger.written('imu', 10);
    now = 11_000;
    expect(ledger.ratePerSec('imu', now)).toBe(200);
  });

  it('says 0 for a stream that has seen nothing, then measures from that look', () => {
    const ledger = new StreamLedger({ nowMs: () => 0 });
    expect(ledger.ratePerSec('gnss', 5_000)).toBe(0);
    for (let i = 0; i < 30; i++) ledger.written('gnss', 10);
    expect(ledger.ratePerSec('gnss', 8_000)).toBe(10);
  });
});

describe('RateMeter.prime', () => {
  it('sets the baseline once; an unprimed meter only starts at its first look', () => {
    const primed = new RateMeter();
    primed.prime(0, 0);
    primed.prime(50, 500);
    expect(primed.rate(100, 1_000)).toBe(100);
    const unprimed = new RateMeter();
    expect(unprimed.rate(100, 1_000)).toBe(0);
  });
});
