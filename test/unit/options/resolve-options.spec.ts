import { constants as bufferConstants } from 'node:buffer';
import {
  CacheArgumentError,
  type CacheCodec,
  CacheConfigurationError,
  type CacheModuleOptions,
  DEFAULT_DOMAINS,
  JsonCodec,
  MsgpackCodec,
} from '@elile/cache';
import { durationToMs } from '../../../libs/cache/src/options/duration.util';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';
import { AutoCodec } from '../../../libs/cache/src/codec/auto.codec';

/** Options are often built from untyped sources (env, JSON files); the tests pass such values. */
const resolve = (options: unknown) => resolveCacheOptions(options as CacheModuleOptions);

function configurationError(options: unknown): CacheConfigurationError {
  try {
    resolve(options);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigurationError);
    return error as CacheConfigurationError;
  }
  throw new Error(`expected a CacheConfigurationError for ${JSON.stringify(options)}`);
}

const customCodec = (overrides: Partial<CacheCodec> & Record<string, unknown> = {}): CacheCodec => ({
  id: 9,
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(bytes.toString()),
  ...overrides,
});

describe('resolveCacheOptions', () => {
  describe('defaults', () => {
    const resolved = resolveCacheOptions();

    it('declares the five built-in domains with their TTLs and prefixes', () => {
      expect(Object.fromEntries(resolved.domains)).toEqual({
        screening: { name: 'screening', ttlMs: 300_000, prefix: 'screening:', fleetSingleFlight: true },
        subject: { name: 'subject', ttlMs: 600_000, prefix: 'subject:', fleetSingleFlight: true },
        org: { name: 'org', ttlMs: 3_600_000, prefix: 'org:', fleetSingleFlight: true },
        compliance: { name: 'compliance', ttlMs: 86_400_000, prefix: 'compliance:', fleetSingleFlight: true },
        session: { name: 'session', ttlMs: 1_800_000, prefix: 'session:', fleetSingleFlight: true },
      });
    });

    it('matches the exported DEFAULT_DOMAINS', () => {
      for (const [name, domain] of Object.entries(DEFAULT_DOMAINS)) {
        expect(resolved.domains.get(name)).toEqual({
          name,
          ttlMs: domain.ttl * 1000,
          prefix: domain.prefix,
          fleetSingleFlight: true,
        });
      }
    });

    it('uses Redis on localhost with a 1 s command deadline', () => {
      expect(resolved.store).toBe('redis');
      expect(resolved.redis).toEqual({
        url: 'redis://localhost:6379/0',
        username: undefined,
        password: undefined,
        commandTimeoutMs: 1000,
        readTimeoutMs: 250,
        writeTimeoutMs: 500,
        breaker: { enabled: true, threshold: 5, halfOpenAfterMs: 1000 },
        connectTimeoutMs: 5000,
        maxConnections: 50,
        maxReconnectDelayMs: 2000,
        maxInFlight: 5000,
        tls: undefined,
        sentinel: undefined,
        cluster: undefined,
        ioredis: {},
      });
    });

    it('uses the auto codec, no namespace, no compression, a 10 s lease and 10000 memory entries', () => {
      expect(resolved.codec).toBeInstanceOf(AutoCodec);
      expect(resolved.namespace).toBe('');
      expect(resolved.compressionThreshold).toBe(0);
      expect(resolved.leaseTtlMs).toBe(10_000);
      expect(resolved.memoryMaxEntries).toBe(10_000);
    });

    it('refuses inflating an entry beyond 16 MiB and does not trust X-Forwarded-Host', () => {
      expect(resolved.maxDecompressedSize).toBe(16 * 1024 * 1024);
      expect(resolved.http).toEqual({ trustForwardedHost: false });
    });

    it('gives the same result for no options and for an empty object', () => {
      // Each resolution builds its own codec instance (with its own closures), so compare the rest.
      const { codec, ...rest } = resolveCacheOptions({});
      const { codec: defaultCodec, ...defaultRest } = resolved;
      expect(rest).toEqual(defaultRest);
      expect(codec.constructor).toBe(defaultCodec.constructor);
    });

    it('does not let a resolution change the exported defaults', () => {
      resolveCacheOptions({ domains: { screening: { ttl: 1, prefix: 'x:' } } });
      expect(DEFAULT_DOMAINS.screening).toEqual({ ttl: 300, prefix: 'screening:' });
    });
  });

  describe('overrides', () => {
    it('changes a built-in TTL and keeps its prefix', () => {
      const resolved = resolveCacheOptions({ domains: { screening: { ttl: 60 } } });
      expect(resolved.domains.get('screening')).toEqual({
        name: 'screening',
        ttlMs: 60_000,
        prefix: 'screening:',
        fleetSingleFlight: true,
      });
      expect(resolved.domains.get('subject')?.ttlMs).toBe(600_000);
    });

    it('changes a built-in prefix and keeps its TTL', () => {
      const resolved = resolveCacheOptions({ domains: { org: { prefix: 'organisation:' } } });
      expect(resolved.domains.get('org')).toEqual({
        name: 'org',
        ttlMs: 3_600_000,
        prefix: 'organisation:',
        fleetSingleFlight: true,
      });
    });

    it('adds a domain, with the default prefix `name:` and a fractional TTL', () => {
      const resolved = resolveCacheOptions({
        domains: { reports: { ttl: 2.5 }, 'audit.v2': { ttl: 1, prefix: 'a2|' } },
      });
      expect(resolved.domains.get('reports')).toEqual({
        name: 'reports',
        ttlMs: 2500,
        prefix: 'reports:',
        fleetSingleFlight: true,
      });
      expect(resolved.domains.get('audit.v2')).toEqual({
        name: 'audit.v2',
        ttlMs: 1000,
        prefix: 'a2|',
        fleetSingleFlight: true,
      });
      expect(resolved.domains.size).toBe(7);
    });

    it('takes every scalar option', () => {
      const resolved = resolveCacheOptions({
        store: 'memory',
        namespace: 'elile:',
        codec: 'json',
        compressionThreshold: 1024,
        leaseTtl: 0.25,
        memoryMaxEntries: 5,
        redis: {
          url: 'rediss://user:pw@cache.internal:6380/2',
          username: 'u',
          password: 'p',
          commandTimeout: 0.5,
          connectTimeout: 3,
          maxConnections: 10,
          maxReconnectDelay: 30,
          ioredis: { keepAlive: 1 },
        },
      });
      expect(resolved).toMatchObject({
        store: 'memory',
        namespace: 'elile:',
        compressionThreshold: 1024,
        leaseTtlMs: 250,
        memoryMaxEntries: 5,
        redis: {
          url: 'rediss://user:pw@cache.internal:6380/2',
          username: 'u',
          password: 'p',
          commandTimeoutMs: 500,
          connectTimeoutMs: 3000,
          maxConnections: 10,
          maxReconnectDelayMs: 30_000,
          ioredis: { keepAlive: 1 },
        },
      });
      expect(resolved.codec).toBeInstanceOf(JsonCodec);
    });

    // BUG (fails today, in the uncommitted resolveLocks of resolve-options.ts): the check
    // "locks.replicaTimeout must be below redis.commandTimeout" also runs when locks.replicas is 0,
    // where no replica wait happens, so any commandTimeout <= 0.2 s (the replicaTimeout default)
    // is refused, and the message blames an option the user never set.
    it.each([
      [0.05, 50],
      [0.1, 100],
      [0.2, 200],
    ])('accepts a short command deadline (%s s) when locks do not wait for replicas', (commandTimeout, ms) => {
      expect(resolveCacheOptions({ redis: { commandTimeout } }).redis.commandTimeoutMs).toBe(ms);
    });

    it('keeps a custom codec as given', () => {
      const codec = customCodec();
      expect(resolveCacheOptions({ codec }).codec).toBe(codec);
    });

    it.each([
      ['auto', AutoCodec],
      ['msgpack', MsgpackCodec],
      ['json', JsonCodec],
    ] as const)("builds the built-in codec named '%s'", (name, codecClass) => {
      expect(resolveCacheOptions({ codec: name }).codec).toBeInstanceOf(codecClass);
    });

    it.each([3, 255])('accepts a custom codec id of %s', (id) => {
      expect((resolve({ codec: customCodec({ id }) }).codec as CacheCodec).id).toBe(id);
    });
  });

  describe('rejections name the option', () => {
    it.each<[string, unknown, RegExp]>([
      ['an unknown store', { store: 'disk' }, /"store".*'redis' or 'memory'.*"disk"/],
      [
        'a domain prefix covering the reserved tag prefix',
        { domains: { odd: { ttl: 5, prefix: '_' } } },
        /"odd".*"__elile:"/,
      ],
      [
        'a domain prefix inside the reserved tag prefix',
        { domains: { odd: { ttl: 5, prefix: '__elile:x' } } },
        /"odd".*"__elile:"/,
      ],
      ['a store of the wrong case', { store: 'Redis' }, /"store"/],
      [
        'a cluster option the module sets (offline queue)',
        { redis: { cluster: { nodes: [{ host: 'h', port: 1 }], options: { enableOfflineQueue: true } } } },
        /"redis\.cluster\.options\.enableOfflineQueue".*no offline queue/,
      ],
      [
        'cluster redisOptions (per-node options come from "redis")',
        { redis: { cluster: { nodes: [{ host: 'h', port: 1 }], options: { redisOptions: { commandTimeout: 0 } } } } },
        /"redis\.cluster\.options\.redisOptions"/,
      ],
      [
        'a cluster keyPrefix',
        { redis: { cluster: { nodes: [{ host: 'h', port: 1 }], options: { keyPrefix: 'x:', lazyConnect: false } } } },
        /"redis\.cluster\.options\.keyPrefix", "redis\.cluster\.options\.lazyConnect"/,
      ],
      ['a non-string namespace', { namespace: 5 }, /"namespace"/],
      ['an http URL', { redis: { url: 'http://localhost:6379' } }, /"redis\.url".*redis:\/\/ or rediss:\/\//],
      ['a URL without scheme', { redis: { url: 'localhost:6379' } }, /"redis\.url"/],
      ['an empty URL', { redis: { url: '' } }, /"redis\.url"/],
      ['a zero command timeout', { redis: { commandTimeout: 0 } }, /"redis\.commandTimeout"/],
      ['a negative connect timeout', { redis: { connectTimeout: -1 } }, /"redis\.connectTimeout"/],
      ['a NaN reconnect delay', { redis: { maxReconnectDelay: NaN } }, /"redis\.maxReconnectDelay"/],
      ['a zero lease TTL', { leaseTtl: 0 }, /"leaseTtl"/],
      ['a domain without ttl', { domains: { reports: { prefix: 'r:' } } }, /"reports".*ttl.*domains\.reports\.ttl/],
      ['a domain with an empty object', { domains: { reports: {} } }, /"reports"/],
      ['a domain name with a space', { domains: { 'my reports': { ttl: 1 } } }, /"my reports"/],
      ['a domain name with a colon', { domains: { 'a:b': { ttl: 1 } } }, /"a:b"/],
      ['a domain name with a glob character', { domains: { 'a*': { ttl: 1 } } }, /"a\*"/],
      ['an empty domain name', { domains: { '': { ttl: 1 } } }, /domain name ""/],
      ['a non-string prefix', { domains: { reports: { ttl: 1, prefix: 5 } } }, /"domains\.reports\.prefix"/],
      ['an unknown codec name', { codec: 'cbor' }, /"codec"/],
      ['a codec without decode', { codec: { id: 9, encode: () => Buffer.alloc(0) } }, /"codec"/],
      ['a codec without id', { codec: customCodec({ id: undefined as unknown as number }) }, /"codec"/],
      ['a codec that is null', { codec: null }, /"codec"/],
      ['a negative compressionThreshold', { compressionThreshold: -1 }, /"compressionThreshold".*>= 0/],
      ['a fractional compressionThreshold', { compressionThreshold: 1.5 }, /"compressionThreshold"/],
      ['a string compressionThreshold', { compressionThreshold: '1024' }, /"compressionThreshold"/],
      ['zero maxConnections', { redis: { maxConnections: 0 } }, /"redis\.maxConnections".*>= 1/],
      ['negative maxConnections', { redis: { maxConnections: -5 } }, /"redis\.maxConnections"/],
      ['fractional maxConnections', { redis: { maxConnections: 2.5 } }, /"redis\.maxConnections"/],
      ['string maxConnections', { redis: { maxConnections: '10' } }, /"redis\.maxConnections"/],
      ['infinite maxConnections', { redis: { maxConnections: Infinity } }, /"redis\.maxConnections"/],
      ['zero memoryMaxEntries', { memoryMaxEntries: 0 }, /"memoryMaxEntries"/],
    ])('%s', (_label, options, message) => {
      expect(configurationError(options).message).toMatch(message);
    });

    describe.each<[string, unknown]>([
      ['zero', 0],
      ['negative', -30],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['a string', '60'],
      ['null', null],
      ['a BigInt', 60n],
    ])('a TTL that is %s', (_label, ttl) => {
      it('on a built-in domain', () => {
        expect(configurationError({ domains: { screening: { ttl } } }).message).toContain('"domains.screening.ttl"');
      });

      it('on a new domain', () => {
        expect(configurationError({ domains: { reports: { ttl } } }).message).toMatch(/domains\.reports\.ttl/);
      });
    });

    it.each<[string, Record<string, { ttl: number; prefix?: string }>, string[]]>([
      ['one prefix inside another', { a: { ttl: 1, prefix: 'x:' }, b: { ttl: 1, prefix: 'x:y:' } }, ['"a"', '"b"']],
      ['equal prefixes', { reports: { ttl: 1, prefix: 'screening:' } }, ['"screening"', '"reports"']],
      ['an empty prefix, which contains all others', { everything: { ttl: 1, prefix: '' } }, ['"everything"']],
      ['a prefix without separator', { sub: { ttl: 1, prefix: 'subject' } }, ['"sub"', '"subject"']],
    ])('overlapping prefixes: %s', (_label, domains, names) => {
      const message = configurationError({ domains }).message;
      expect(message).toMatch(/overlapping prefixes/);
      for (const name of names) expect(message).toContain(name);
    });

    it('accepts prefixes that merely share a beginning', () => {
      expect(() =>
        resolveCacheOptions({ domains: { ab: { ttl: 1, prefix: 'ab:' }, ac: { ttl: 1, prefix: 'ac:' } } }),
      ).not.toThrow();
    });

    it('does not echo a URL that may hold a password', () => {
      expect(configurationError({ redis: { url: 'http://admin:hunter2secret@db:6379' } }).message).not.toContain(
        'hunter2secret',
      );
    });

    // The id is one byte of every entry, and 1 and 2 belong to the built-in codecs, whose
    // entries must stay readable after a change of codec.
    it.each<[string, unknown]>([
      ['1 (the built-in msgpack codec)', 1],
      ['2 (the built-in JSON codec)', 2],
      ['256 (does not fit the header byte)', 256],
      ['a fraction', 3.5],
      ['a negative number', -1],
      ['a numeric string', '3'],
      ['zero', 0],
    ])('a custom codec id that is %s', (_label, id) => {
      expect(configurationError({ codec: customCodec({ id: id as number }) }).message).toMatch(/"codec"/);
    });
  });
});

describe('resolveCacheOptions: unknown keys', () => {
  describe.each<[string, unknown, string, string | undefined]>([
    ['the top level', { tll: 5 }, 'tll', undefined],
    ['the top level (a typo)', { namspace: 'app:' }, 'namspace', 'namespace'],
    ['the top level (wrong case)', { LeaseTtl: 5 }, 'LeaseTtl', 'leaseTtl'],
    ['redis', { redis: { comandTimeout: 1 } }, 'redis.comandTimeout', 'redis.commandTimeout'],
    [
      'redis.sentinel',
      { redis: { sentinel: { name: 'primary', sentinels: [{ host: 's1', port: 26379 }], nmae: 'x' } } },
      'redis.sentinel.nmae',
      'redis.sentinel.name',
    ],
    [
      'redis.cluster',
      { redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }], option: { scaleReads: 'slave' } } } },
      'redis.cluster.option',
      'redis.cluster.options',
    ],
    ['a built-in domain', { domains: { org: { tll: 5 } } }, 'domains.org.tll', 'domains.org.ttl'],
    [
      'a declared domain',
      { domains: { reports: { ttl: 5, prefx: 'r:' } } },
      'domains.reports.prefx',
      'domains.reports.prefix',
    ],
    ['locks', { locks: { defaultTTL: 5 } }, 'locks.defaultTTL', 'locks.defaultTtl'],
    ['http', { http: { trustForwardedHosts: true } }, 'http.trustForwardedHosts', 'http.trustForwardedHost'],
  ])('at %s', (_label, options, path, suggestion) => {
    it('refuses it, naming its full path', () => {
      expect(configurationError(options).message).toMatch(
        new RegExp(`^Unknown CacheModule option "${path.replace(/\./g, '\\.')}"`),
      );
    });

    it(suggestion ? `suggests "${suggestion}"` : 'suggests nothing when no known name is close', () => {
      const message = configurationError(options).message;
      if (suggestion) expect(message).toContain(`"${path}" (did you mean "${suggestion}"?)`);
      else expect(message).not.toContain('did you mean');
    });
  });

  it('lists what the level accepts', () => {
    expect(configurationError({ http: { forwarded: true } }).message).toContain(
      'Known in "http": "trustForwardedHost"',
    );
  });

  it('names every unknown key of a level at once', () => {
    const message = configurationError({ tll: 5, stroe: 'memory' }).message;
    expect(message).toContain('options "tll", "stroe" (did you mean "store"?)');
  });

  it("points options of ioredis put beside the module's to redis.ioredis", () => {
    const message = configurationError({ redis: { keepAlive: 1000 } }).message;
    expect(message).toContain('"redis.keepAlive"');
    expect(message).toContain('"redis.ioredis"');
  });

  it('refuses an unknown key even when its value is undefined (the typo is there all the same)', () => {
    expect(configurationError({ domains: { org: { tll: undefined } } }).message).toContain('"domains.org.tll"');
  });

  it('refuses a key that an untrusted JSON source sets as __proto__', () => {
    expect(configurationError(JSON.parse('{"locks": {"__proto__": {"prefix": "x"}}}')).message).toContain(
      '"locks.__proto__"',
    );
  });

  it('accepts undefined for every known key, as if it were absent', () => {
    const { codec, ...rest } = resolve({
      store: undefined,
      namespace: undefined,
      codec: undefined,
      compressionThreshold: undefined,
      maxDecompressedSize: undefined,
      leaseTtl: undefined,
      memoryMaxEntries: undefined,
      redis: {
        url: undefined,
        username: undefined,
        password: undefined,
        commandTimeout: undefined,
        connectTimeout: undefined,
        maxConnections: undefined,
        maxReconnectDelay: undefined,
        maxInFlight: undefined,
        tls: undefined,
        sentinel: undefined,
        cluster: undefined,
        ioredis: undefined,
      },
      domains: { org: undefined, screening: { ttl: undefined, prefix: undefined, scope: undefined } },
      locks: {
        prefix: undefined,
        defaultTtl: undefined,
        defaultWait: undefined,
        pollInterval: undefined,
        replicas: undefined,
        replicaTimeout: undefined,
      },
      http: { trustForwardedHost: undefined },
    });
    const { codec: defaultCodec, ...defaults } = resolveCacheOptions();
    expect(rest).toEqual(defaults);
    expect(codec.constructor).toBe(defaultCodec.constructor);
  });

  it('leaves the objects that ioredis reads to ioredis', () => {
    expect(() =>
      resolve({
        codec: customCodec({ label: 'a field of the application' }),
        redis: {
          tls: { rejectUnauthorized: true, anything: 1 },
          ioredis: { keepAlive: 1000, notAnIoredisOption: true },
          sentinel: { name: 'primary', sentinels: [{ host: 's1', port: 26379, family: 4 }] },
        },
      }),
    ).not.toThrow();
    expect(() =>
      resolve({
        redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }], options: { scaleReads: 'slave', madeUp: 1 } } },
      }),
    ).not.toThrow();
  });

  it.each<[string, unknown, string]>([
    ['the options', null, 'CacheModule options must be an object, got null'],
    ['redis', { redis: null }, '"redis" must be an object, got null'],
    ['redis.sentinel', { redis: { sentinel: 'primary' } }, '"redis.sentinel" must be an object, got a string'],
    ['redis.cluster', { redis: { cluster: [] } }, '"redis.cluster" must be an object, got an array'],
    ['domains', { domains: [{ ttl: 1 }] }, '"domains" must be an object, got an array'],
    ['a domain', { domains: { org: null } }, '"domains.org" must be an object, got null'],
    ['locks', { locks: 'lock:' }, '"locks" must be an object, got a string'],
    ['http', { http: true }, '"http" must be an object, got true'],
  ])('refuses %s when it is not an object', (_label, options, message) => {
    expect(configurationError(options).message).toContain(message);
  });

  it('does not echo a string given in place of a section, which may be a URL with a password', () => {
    expect(configurationError({ redis: 'redis://admin:hunter2secret@db:6379' }).message).not.toContain('hunter2secret');
  });
});

describe('resolveCacheOptions: maxDecompressedSize, redis.maxInFlight, http', () => {
  it('takes each of them', () => {
    const resolved = resolveCacheOptions({
      maxDecompressedSize: 1024,
      redis: { maxInFlight: 1 },
      http: { trustForwardedHost: true },
    });
    expect(resolved.maxDecompressedSize).toBe(1024);
    expect(resolved.redis.maxInFlight).toBe(1);
    expect(resolved.http).toEqual({ trustForwardedHost: true });
  });

  it('accepts the largest Buffer as maxDecompressedSize', () => {
    expect(resolveCacheOptions({ maxDecompressedSize: bufferConstants.MAX_LENGTH }).maxDecompressedSize).toBe(
      bufferConstants.MAX_LENGTH,
    );
  });

  it.each<[string, unknown, RegExp]>([
    [
      'maxDecompressedSize below 1024',
      { maxDecompressedSize: 1023 },
      /"maxDecompressedSize" must be a whole number from 1024 to \d+, got 1023/,
    ],
    ['maxDecompressedSize of zero', { maxDecompressedSize: 0 }, /"maxDecompressedSize"/],
    ['a fractional maxDecompressedSize', { maxDecompressedSize: 4096.5 }, /"maxDecompressedSize"/],
    ['a string maxDecompressedSize', { maxDecompressedSize: '4096' }, /"maxDecompressedSize".*got "4096"/],
    [
      'maxDecompressedSize beyond the largest Buffer',
      { maxDecompressedSize: bufferConstants.MAX_LENGTH + 1 },
      /"maxDecompressedSize"/,
    ],
    ['an infinite maxDecompressedSize', { maxDecompressedSize: Infinity }, /"maxDecompressedSize"/],
    [
      'zero redis.maxInFlight',
      { redis: { maxInFlight: 0 } },
      /"redis\.maxInFlight" must be a whole number >= 1, got 0/,
    ],
    ['fractional redis.maxInFlight', { redis: { maxInFlight: 2.5 } }, /"redis\.maxInFlight"/],
    ['string redis.maxInFlight', { redis: { maxInFlight: '100' } }, /"redis\.maxInFlight"/],
    ['infinite redis.maxInFlight', { redis: { maxInFlight: Infinity } }, /"redis\.maxInFlight"/],
    [
      'a string trustForwardedHost',
      { http: { trustForwardedHost: 'true' } },
      /"http\.trustForwardedHost" must be true or false, got "true"/,
    ],
    ['a numeric trustForwardedHost', { http: { trustForwardedHost: 1 } }, /"http\.trustForwardedHost"/],
  ])('refuses %s', (_label, options, message) => {
    expect(configurationError(options).message).toMatch(message);
  });
});

describe('durationToMs', () => {
  it.each<[number, number]>([
    [1, 1000],
    [300, 300_000],
    [0.5, 500],
    [2.5, 2500],
    [0.001, 1],
    [1.0004, 1000],
  ])('converts %s s to %s ms', (seconds, ms) => {
    expect(durationToMs(seconds, 'TTL')).toBe(ms);
  });

  it.each([0.0004, 1e-9, Number.MIN_VALUE])(
    'rounds the tiny positive %s s up to 1 ms, not to "no expiry"',
    (seconds) => {
      expect(durationToMs(seconds, 'TTL')).toBe(1);
    },
  );

  it.each<[unknown, number]>([
    ['300ms', 300],
    ['1.5s', 1500],
    ['.5s', 500],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    [' 10s ', 10_000],
    [{ minutes: 1, seconds: 30 }, 90_000],
    [{ milliseconds: 250 }, 250],
    [{ days: 1, hours: 1 }, 90_000_000],
  ])('reads the typed duration %p as %s ms', (duration, ms) => {
    expect(durationToMs(duration, 'TTL')).toBe(ms);
  });

  it.each<unknown>([
    '5',
    '5 minutes',
    '5M',
    '-1s',
    '0s',
    'ms',
    '1e3ms',
    { minutes: -1 },
    { minutes: '1' },
    {},
    { minutes: 1, secs: 2 },
  ])('refuses %p, saying what a duration is', (duration) => {
    expect(() => durationToMs(duration, 'TTL')).toThrow(
      /TTL must be a positive duration: seconds as a number, a string such as '300ms'/,
    );
  });

  it('takes typed durations in module options, validated at boot', () => {
    const resolved = resolveCacheOptions({
      leaseTtl: '15s',
      domains: { screening: { ttl: '5m', l1: { ttl: { seconds: 30 } }, grace: '1h', softTimeout: '200ms' } },
      redis: { readTimeout: '100ms' },
      locks: { defaultTtl: { minutes: 1 }, defaultWait: '0s' },
    });
    expect(resolved.leaseTtlMs).toBe(15_000);
    expect(resolved.domains.get('screening')).toMatchObject({
      ttlMs: 300_000,
      l1: { ttlMs: 30_000 },
      graceMs: 3_600_000,
      softTimeoutMs: 200,
    });
    expect(resolved.redis.readTimeoutMs).toBe(100);
    expect(resolved.locks).toMatchObject({ defaultTtlMs: 60_000, defaultWaitMs: 0 });
    expect(() => resolveCacheOptions({ domains: { screening: { ttl: '5 min' as never } } })).toThrow(
      /"domains\.screening\.ttl" must be a positive duration/,
    );
  });

  it('always returns a whole number of milliseconds', () => {
    for (const seconds of [0.0015, 1 / 3, 2 / 3, 123.4567])
      expect(Number.isInteger(durationToMs(seconds, 'TTL'))).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ['zero', 0, 'got 0'],
    ['a negative number', -1, 'got -1'],
    ['NaN', NaN, 'got NaN'],
    ['Infinity', Infinity, 'got Infinity'],
    ['a numeric string', '5', 'got "5"'],
    ['a BigInt', 5n, 'got 5n'],
    ['null', null, 'got null'],
    ['undefined', undefined, 'got undefined'],
    ['an object with no known unit', { secs: 5 }, 'got an object'],
    ['an array', [5], 'got an array'],
  ])('rejects %s with CacheArgumentError naming the setting and the value', (_label, value, described) => {
    let caught: unknown;
    try {
      durationToMs(value, 'TTL of "k"');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CacheArgumentError);
    expect((caught as Error).message).toContain('TTL of "k" must be a positive duration');
    expect((caught as Error).message).toContain(described);
  });

  it('throws the error type it is given', () => {
    expect(() => durationToMs(0, 'x', CacheConfigurationError)).toThrow(CacheConfigurationError);
    expect(() => durationToMs(0, 'x', CacheConfigurationError)).not.toThrow(CacheArgumentError);
  });
});

describe('resolveCacheOptions: near cache, refresh-ahead and fleet single flight', () => {
  it('turns a near cache on with its defaults, or with the settings given', () => {
    const resolved = resolveCacheOptions({
      domains: { screening: { l1: true }, org: { l1: { maxEntries: 5, ttl: 2 } }, subject: { l1: false } },
    });
    expect(resolved.domains.get('screening')?.l1).toEqual({ maxEntries: 10_000, ttlMs: 60_000 });
    expect(resolved.domains.get('org')?.l1).toEqual({ maxEntries: 5, ttlMs: 2000 });
    expect(resolved.domains.get('subject')?.l1).toBeUndefined();
    expect(resolved.domains.get('compliance')?.l1).toBeUndefined();
  });

  it.each([
    ['a string', 'yes', /domains\.screening\.l1/],
    ['an array', [], /domains\.screening\.l1/],
    ['an unknown setting', { size: 5 }, /domains\.screening\.l1\.size.*maxEntries/],
    ['zero entries', { maxEntries: 0 }, /domains\.screening\.l1\.maxEntries/],
    ['a negative TTL', { ttl: -1 }, /domains\.screening\.l1\.ttl/],
    [
      'more entries than lru-cache can index',
      { maxEntries: 2 ** 32 },
      /domains\.screening\.l1\.maxEntries.*1 to 10000000/,
    ],
  ])('refuses an l1 that is %s', (_what, l1, message) => {
    expect(() => resolveCacheOptions({ domains: { screening: { l1: l1 as never } } })).toThrow(message);
  });

  it.each([0, 1, -0.2, 1.5, NaN, '0.8'])('refuses refreshAhead %p', (ratio) => {
    expect(() => resolveCacheOptions({ domains: { screening: { refreshAhead: ratio as number } } })).toThrow(
      /refreshAhead.*above 0 and below 1/,
    );
  });

  it('refuses a near cache on a Redis Cluster, naming the domain', () => {
    expect(() =>
      resolveCacheOptions({
        redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } },
        domains: { org: { l1: true } },
      }),
    ).toThrow(/"org".*near cache.*Cluster/);
  });

  it('has fleet single flight on by default, off when asked, and refuses anything but a boolean', () => {
    expect(resolveCacheOptions({}).domains.get('screening')?.fleetSingleFlight).toBe(true);
    expect(resolveCacheOptions({ fleetSingleFlight: false }).domains.get('screening')?.fleetSingleFlight).toBe(false);
    expect(() => resolveCacheOptions({ fleetSingleFlight: 'no' as never })).toThrow(/fleetSingleFlight/);
  });
});
