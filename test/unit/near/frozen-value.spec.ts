import { isDeepStrictEqual } from 'node:util';
import { immutable } from '@elile/cache/near/frozen-value';

describe('immutable', () => {
  const rich = () => ({
    at: new Date('2026-05-06T07:08:09.000Z'),
    list: [1, { nested: [new Date(0)] }],
    seen: new Map<unknown, unknown>([[new Date(5), { n: 1 }]]),
    tags: new Set([{ t: 'x' }]),
    nothing: null,
    big: 10n,
  });

  it('keeps the value deep-equal to an untouched copy, prototypes included', () => {
    const value = immutable(rich());
    expect(isDeepStrictEqual(value, rich())).toBe(true);
    expect(value).toStrictEqual(rich());
    expect(Object.getPrototypeOf(value!.at)).toBe(Date.prototype);
  });

  it('refuses every way of changing it', () => {
    const value = immutable(rich())!;
    const attempts: Array<() => unknown> = [
      () => ((value as { extra?: number }).extra = 1),
      () => (value.list[0] = 2),
      () => value.list.push(3),
      () => (value.list[1] as { nested: Date[] }).nested[0].setTime(1),
      () => value.at.setUTCHours(1),
      () => value.at.setTime(0),
      () => value.seen.set('k', 1),
      () => value.seen.delete([...value.seen.keys()][0]),
      () => value.seen.clear(),
      () => ([...value.seen.keys()][0] as Date).setFullYear(2000),
      () => (([...value.seen.values()][0] as { n: number }).n = 2),
      () => value.tags.add({ t: 'y' }),
      () => ([...value.tags][0].t = 'z'),
    ];
    for (const attempt of attempts) expect(attempt).toThrow(TypeError);
    expect(isDeepStrictEqual(value, rich())).toBe(true);
  });

  it('refuses, changing nothing, a value holding bytes or a class instance', () => {
    class Point {
      x = 1;
    }
    for (const value of [{ raw: Buffer.from('a') }, { at: new Date(0), p: new Point() }, [new Uint8Array(2)]]) {
      const before = structuredClone(value);
      expect(immutable(value)).toBeUndefined();
      expect(Object.isFrozen(value)).toBe(false);
      expect(Object.isFrozen((value as { at?: Date }).at ?? {})).toBe(false);
      if (!(value as { p?: Point }).p) expect(value).toEqual(before);
    }
  });

  it('keeps primitives as they are', () => {
    for (const value of ['s', 1, true, null, 5n]) expect(immutable(value)).toBe(value);
  });
});
