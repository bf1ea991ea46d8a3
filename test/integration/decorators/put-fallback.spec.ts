import { Injectable, type INestApplication } from '@nestjs/common';
import { CachePut, CacheRegistry } from '@elile/cache';
import { createDecoratedApp, STORE_KINDS } from '../../fixtures/decorated-app';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

@Injectable()
class Profiles {
  @CachePut({ cache: 'people', key: (id: string) => id })
  async update(id: string, withCallback: boolean): Promise<{ id: string; version: number; onChange?: () => void }> {
    return withCallback ? { id, version: 2, onChange: () => undefined } : { id, version: 2 };
  }
}

describe.each(STORE_KINDS)('@CachePut whose result cannot be stored (%s store)', (store) => {
  const namespace = uniqueNamespace(`put-fallback-${store}`);
  let app: INestApplication;

  beforeAll(async () => {
    app = await createDecoratedApp({ store, namespace, providers: [Profiles] });
  });

  afterAll(async () => {
    await app?.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('removes the entry it could not replace, so the old value is not served after the change', async () => {
    const people = app.get(CacheRegistry).get('people');
    await people.set('p1', { id: 'p1', version: 1 });
    const updated = await app.get(Profiles).update('p1', true);
    expect(updated.version).toBe(2);
    expect(await people.get('p1')).toBeUndefined();
    expect(people.stats().errors).toBeGreaterThan(0);
  });

  it('stores a result that can be stored', async () => {
    await app.get(Profiles).update('p2', false);
    expect(await app.get(CacheRegistry).get('people').get('p2')).toEqual({ id: 'p2', version: 2 });
  });
});
