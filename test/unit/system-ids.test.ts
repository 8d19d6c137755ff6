import { describe, expect, it } from 'vitest';
import { pooledRandom, ulidIds } from '#shared/adapters/system.ts';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('ulidIds', () => {
  it('makes distinct ULIDs that sort in the order they were made, across refills of the random pool', () => {
    // 10,000 ids draw 100,000 random characters: the 4 KiB pool is refilled about 24 times.
    const ids = Array.from({ length: 10_000 }, () => ulidIds.next());

    expect(ids.every((id) => ULID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('draws random bytes: every one of the 256 fractions comes up, none far more often than another', () => {
    const random = pooledRandom(64);
    const counts = new Array<number>(256).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < 256_000; i += 1) {
      const fraction = random();
      if (fraction >= 0 && fraction < 1) counts[fraction * 256] = counts[fraction * 256]! + 1;
      else outOfRange += 1;
    }

    expect(outOfRange).toBe(0);

    // 1,000 expected per value; a binomial's standard deviation here is about 31.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});
