import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cacheable, CacheConfigurationError, CacheModule, CacheRegistry } from '@elile/cache';
import { RecordingLogger } from '../../support/recording-logger';
import { sleep, waitFor } from '../cache-test-app';

let version = 0;

@Injectable()
class Rules {
  @Cacheable({ cache: 'rules', key: (org: string) => org, refreshAhead: 0.5 })
  async of(org: string): Promise<string> {
    return `${org} v${++version}`;
  }

  @Cacheable({ cache: 'rules', key: (org: string) => `never:${org}`, refreshAhead: false })
  async notRefreshed(org: string): Promise<string> {
    return `${org} v${++version}`;
  }
}

describe('@Cacheable refreshAhead and wait', () => {
  it('refreshes a hit late in its TTL in the background, and not when turned off', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ store: 'memory', domains: { rules: { ttl: 1, refreshAhead: 0.5 } } })],
      providers: [Rules],
    })
      .setLogger(new RecordingLogger())
      .compile();
    await moduleRef.init();
    try {
      const rules = moduleRef.get(Rules);
      const cache = moduleRef.get(CacheRegistry).get('rules');
      version = 0;
      await expect(rules.of('acme')).resolves.toBe('acme v1');
      await expect(rules.notRefreshed('acme')).resolves.toBe('acme v2');
      await sleep(600);
      await expect(rules.of('acme')).resolves.toBe('acme v1');
      await expect(rules.notRefreshed('acme')).resolves.toBe('acme v2');
      await waitFor('the refresh', () => cache.stats().refreshes === 1);
      await sleep(500);
      await expect(rules.of('acme')).resolves.toBe('acme v3');
      expect(cache.stats().refreshes).toBe(1);
    } finally {
      await moduleRef.close();
    }
  });

  it.each([
    ['refreshAhead 1', { refreshAhead: 1 }, /refreshAhead/],
    ['refreshAhead "0.5"', { refreshAhead: '0.5' }, /refreshAhead/],
    ['wait -1', { wait: -1 }, /"wait"/],
  ])('fails the boot for %s, naming the method', async (_name, extra, message) => {
    @Injectable()
    class Misconfigured {
      @Cacheable({ cache: 'rules', key: () => 'k', ...(extra as object) })
      async read(): Promise<number> {
        return 1;
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ store: 'memory', domains: { rules: { ttl: 1 } } })],
      providers: [Misconfigured],
    })
      .setLogger(new RecordingLogger())
      .compile();
    const failure = await moduleRef.init().then(
      () => undefined,
      (error: unknown) => error,
    );
    await moduleRef.close().catch(() => undefined);
    expect(failure).toBeInstanceOf(CacheConfigurationError);
    expect((failure as Error).message).toMatch(/Misconfigured#read/);
    expect((failure as Error).message).toMatch(message);
  });
});
