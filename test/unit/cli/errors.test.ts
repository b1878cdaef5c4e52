import { describe, expect, it } from 'vitest';
import { RigcapError, errorCatalogue } from '../../../agent/errors.ts';
import { exitCodeFor } from '../../../agent/main.ts';

describe('error catalogue', () => {
  it('every code is stable, prefixed and has a fix', () => {
    for (const [code, fix] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^RIGCAP_[A-Z0-9_]+$/);
      expect(fix.length).toBeGreaterThan(10);
    }
    // Renaming or removing a code breaks tools that match on it: change this list deliberately.
    expect(Object.keys(errorCatalogue)).toEqual(
      expect.arrayContaining(['RIGCAP_CONFIG_INVALID', 'RIGCAP_DISK_FULL', 'RIGCAP_USAGE']),
    );
    expect(Object.keys(errorCatalogue).sort()).toMatchSnapshot();
  });

  it('formats code, message and fix, and maps config errors to exit 2', () => {
    const err = new RigcapError('RIGCAP_CONFIG_INVALID', 'bad');
    expect(err.format()).toBe(`RIGCAP_CONFIG_INVALID: bad\n  fix: ${errorCatalogue.RIGCAP_CONFIG_INVALID}`);
    expect(exitCodeFor(err)).toBe(2);
    expect(exitCodeFor(new RigcapError('RIGCAP_DISK_FULL', 'x'))).toBe(1);
  });
});
