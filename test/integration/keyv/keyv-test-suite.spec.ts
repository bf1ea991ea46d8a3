import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import Keyv, { type KeyvOptions } from 'keyv';
import { Keyv as Keyv6 } from 'keyv6';
import { ElileKeyvStore } from '@elile/cache';
import { type CacheApp, startCacheApp } from '../cache-test-app';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { vitestContext } from '../../support/vitest-context';

const namespace = uniqueNamespace('keyv-suite');
const DOMAIN = 'keyv';
let app: CacheApp;

beforeAll(async () => {
  app = await startCacheApp({
    store: 'redis',
    redis: { url: testRedisUrl() },
    namespace,
    domains: { [DOMAIN]: { ttl: 60 } },
  });
});

afterAll(async () => {
  await app?.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

/** A new store per Keyv instance, as the suite builds them: constructing one costs nothing. */
const store = () => new ElileKeyvStore(app.registry.get(DOMAIN));

const NO_ITERATOR = {
  reason: 'the store has no iterator(): the cache offers no key listing, so keyv.iterator is undefined',
  error: /keyv2?\.iterator(\(\.\.\.\))? is not a function/,
};

describe('@keyv/test-suite 2.1.2 on Keyv 5.6 with ElileKeyvStore (real Redis)', () => {
  describe("with Keyv's default serializer", () => {
    keyvTestSuite(vitestContext(), Keyv, store);
  });

  describe('with serialization off: the domain codec stores the { value, expires } objects', () => {
    class RawKeyv extends Keyv {
      constructor(options: KeyvOptions = {}) {
        super({ serialize: undefined, deserialize: undefined, ...options });
      }
    }
    keyvTestSuite(vitestContext(), RawKeyv as typeof Keyv, store);
  });

  describe('iterator tests (not part of the default suite)', () => {
    keyvIteratorTests(
      vitestContext({
        '.iterator() returns an asyncIterator': NO_ITERATOR,
        'iterator() iterates over all values': NO_ITERATOR,
        "iterator() doesn't yield values from other namespaces": NO_ITERATOR,
        "iterator() doesn't yield expired values, and deletes them": NO_ITERATOR,
      }),
      Keyv,
      store,
    );

    it('has no iterator: Keyv leaves keyv.iterator undefined', () => {
      expect(new Keyv({ store: store() }).iterator).toBeUndefined();
    });
  });
});

const V6_DELETE_MANY = {
  reason: 'Keyv 6 resolves delete([keys]) to one boolean per key, where the 5.x suite expects one boolean',
  error: /toBeFalsy[\s\S]*Received: \[false, false, false\]/,
};

describe('@keyv/test-suite 2.1.2 on Keyv 6.1 with ElileKeyvStore (real Redis)', () => {
  keyvTestSuite(
    vitestContext({ '.deleteMany([keys]) with nonexistent keys resolves to false': V6_DELETE_MANY }),
    Keyv6 as unknown as typeof Keyv,
    store,
  );

  it("delete([keys]) of absent keys gives Keyv 6's per-key answer, as on Keyv 6's own Map store", async () => {
    const ours = new Keyv6({ store: store(), namespace: 'v6-delete' });
    const map = new Keyv6({ store: new Map(), namespace: 'v6-delete' });
    expect(await ours.delete(['x', 'y', 'z'])).toEqual([false, false, false]);
    expect(await map.delete(['x', 'y', 'z'])).toEqual([false, false, false]);
  });

  it('delete([keys]) answers for all keys at once: true for each only when every key existed', async () => {
    const keyv = new Keyv6({ store: store(), namespace: 'v6-delete-some' });
    await keyv.set('x', 1);
    await keyv.set('y', 2);
    expect(await keyv.delete(['x', 'y'])).toEqual([true, true]);
    await keyv.set('x', 1);
    // Both are gone either way; Keyv 6's per-key result cannot say which existed.
    expect(await keyv.delete(['x', 'y'])).toEqual([false, false]);
    expect(await keyv.get(['x', 'y'])).toEqual([undefined, undefined]);
  });
});
