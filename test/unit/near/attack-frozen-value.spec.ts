import { immutable } from '@elile/cache/near/frozen-value';

describe('immutable under attack', () => {
  it('refuses property writes by every reflective route, deep in arrays, Map values and Set members', () => {
    const value = immutable({
      list: [{ n: 1 }],
      seen: new Map([[{ key: 1 }, { n: 1 }]]),
      tags: new Set([{ t: 'x' }]),
    })!;
    const [mapKey, mapValue] = [...value.seen][0];
    const member = [...value.tags][0];
    expect(Reflect.set(value.list[0], 'n', 2)).toBe(false);
    expect(Reflect.set(mapKey, 'key', 2)).toBe(false);
    expect(Reflect.set(mapValue, 'n', 2)).toBe(false);
    expect(Reflect.set(member, 't', 'y')).toBe(false);
    expect(Reflect.defineProperty(value, 'extra', { value: 1 })).toBe(false);
    expect(Reflect.deleteProperty(value.list, 0)).toBe(false);
    expect(Reflect.setPrototypeOf(value, null)).toBe(false);
    expect(() => Object.defineProperty(value.seen, 'set', { value: () => undefined })).toThrow(TypeError);
    expect(() => Array.prototype.push.call(value.list, 1)).toThrow(TypeError);
    expect(() => Array.prototype.splice.call(value.list, 0, 1)).toThrow(TypeError);
    expect(value).toEqual({ list: [{ n: 1 }], seen: new Map([[{ key: 1 }, { n: 1 }]]), tags: new Set([{ t: 'x' }]) });
  });
});
