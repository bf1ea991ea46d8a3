import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheRegistry } from '@elile/cache';
import { boundedKey } from '../../libs/cache/src/caches/cache-keys';
import { createDecoratedApp, STORE_KINDS } from '../fixtures/decorated-app';
import { TenantsController } from '../fixtures/tenant.controllers';
import { RecordingLogger } from '../support/recording-logger';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

const namespace = uniqueNamespace('tenant-isolation');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(STORE_KINDS)('tenant isolation of cached controller responses (%s store)', (store) => {
  let app: INestApplication;
  const logger = new RecordingLogger();
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    app = await createDecoratedApp({
      store,
      namespace: `${namespace}${store}:`,
      controllers: [TenantsController],
      logger,
    });
  });

  afterAll(async () => {
    await app.close();
  });

  describe('scoped and unscoped keys live in disjoint key spaces', () => {
    it('a tenant’s entry is not served for an unscoped key that spells the old scoped form', async () => {
      const own = await http().get('/tenants/scoped/42').set('x-tenant', 'acme').expect(200);
      expect(own.body.secret).toBe("acme's record 42");

      const forged = await http()
        .get(`/tenants/keyed/${encodeURIComponent('scope:acme|42')}`)
        .expect(200);
      expect(forged.body).toEqual({ id: 'scope:acme|42', public: true, run: 1 });
      expect(forged.headers['x-cache']).toBe('MISS');
    });

    it('an unscoped key in the reserved key space bypasses the cache instead of naming a scoped entry', async () => {
      await http().get('/tenants/scoped/7').set('x-tenant', 'acme').expect(200);
      for (const forgedId of ['__elile:scope:4:acme:7', '__elile:anything']) {
        const forged = await http()
          .get(`/tenants/keyed/${encodeURIComponent(forgedId)}`)
          .expect(200);
        expect(forged.headers['x-cache']).toBe('BYPASS');
        expect(forged.body.public).toBe(true);
        expect(forged.body.secret).toBeUndefined();
      }
    });

    it('(scope, key) pairs that concatenate to the same text stay apart', async () => {
      const first = await http()
        .get(`/tenants/scoped/${encodeURIComponent('x:42')}`)
        .set('x-tenant', 'acme')
        .expect(200);
      const second = await http().get('/tenants/scoped/42').set('x-tenant', 'acme:x').expect(200);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.body.secret).toBe("acme:x's record 42");
    });

    it('a literal key equal to the hashed form of a long key does not reach that key’s entry', async () => {
      const longId = 'l'.repeat(300);
      await http().get(`/tenants/keyed/${longId}`).expect(200);
      const hashedForm = boundedKey(longId);
      const forged = await http()
        .get(`/tenants/keyed/${encodeURIComponent(hashedForm)}`)
        .expect(200);
      expect(forged.headers['x-cache']).toBe('MISS');
      expect(forged.body.id).toBe(hashedForm);
    });
  });

  describe('a scope must be a non-empty string', () => {
    it.each(['object', 'number', 'array', 'empty', 'null'])(
      'a scope function returning %s bypasses, counted and logged',
      async (kind) => {
        const web = app.get(CacheRegistry).get('web');
        const errorsBefore = web.stats().errors;
        const first = await http().get(`/tenants/bad-scope/${kind}`).set('x-tenant', 'acme').expect(200);
        const second = await http().get(`/tenants/bad-scope/${kind}`).set('x-tenant', 'globex').expect(200);
        expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
        expect(second.body).toEqual({ kind, tenant: 'globex', run: 2 });
        expect(web.stats().errors).toBe(errorsBefore + 2);
        expect(logger.text()).toMatch(/@Cacheable key failed/);
      },
    );
  });

  describe('the key names exactly the resource the router dispatches to', () => {
    it.each(['%2e', '%2E', '%2e%2e', '.%2e'])('/paths/%s is not cached under the key of /paths/', async (segment) => {
      const list = await http().get('/tenants/paths/').expect(200);
      expect(list.body.list).toBe(true);
      const item = await http().get(`/tenants/paths/${segment}`).expect(200);
      expect(item.body.item).toBe(decodeURIComponent(segment));
      expect(item.body.list).toBeUndefined();
    });

    it('keeps the port: a response built for victim.example:6666 is not served to victim.example', async () => {
      const withPort = await http().get('/tenants/echo').set('host', 'victim.example:6666').expect(200);
      expect(withPort.body.host).toBe('victim.example:6666');
      const withoutPort = await http().get('/tenants/echo').set('host', 'victim.example').expect(200);
      expect(withoutPort.headers['x-cache']).toBe('MISS');
      expect(withoutPort.body.host).toBe('victim.example');
      const again = await http().get('/tenants/echo').set('host', 'victim.example:6666').expect(200);
      expect(again.headers['x-cache']).toBe('HIT');
      expect(again.body).toEqual(withPort.body);
    });

    it('a Host header that could run into the path bypasses the cache', async () => {
      for (const host of ['victim.example/tenants', 'a b', 'user@victim.example', 'victim.example?x']) {
        const response = await http().get('/tenants/echo').set('host', host).expect(200);
        expect(response.headers['x-cache']).toBe('BYPASS');
      }
    });

    it('sorts parameters of different names, but keeps the order of same-name parameters', async () => {
      const first = await http().get('/tenants/echo?a=1&a=2').set('host', 'q.example').expect(200);
      const swapped = await http().get('/tenants/echo?a=2&a=1').set('host', 'q.example').expect(200);
      expect(swapped.headers['x-cache']).toBe('MISS');
      expect(swapped.body.query).not.toEqual(first.body.query);

      // `%61` is `a` once decoded: these two are the same parameter in a different order.
      const encoded = await http().get('/tenants/echo?a=1&%61=2').set('host', 'q.example').expect(200);
      const encodedSwapped = await http().get('/tenants/echo?%61=2&a=1').set('host', 'q.example').expect(200);
      expect(encodedSwapped.body.query).not.toEqual(encoded.body.query);
      expect(encodedSwapped.headers['x-cache']).toBe('MISS');

      const sorted = await http().get('/tenants/echo?b=2&a=1').set('host', 'q.example').expect(200);
      const resorted = await http().get('/tenants/echo?a=1&b=2').set('host', 'q.example').expect(200);
      expect(resorted.headers['x-cache']).toBe('HIT');
      expect(resorted.body).toEqual(sorted.body);
    });

    it('ignores X-Forwarded-Host by default (trustForwardedHost is off)', async () => {
      const forwarded = await http()
        .get('/tenants/echo')
        .set('host', 'f.example')
        .set('x-forwarded-host', 'evil.example')
        .expect(200);
      const plain = await http().get('/tenants/echo').set('host', 'f.example').expect(200);
      expect(forwarded.headers['x-cache']).toBe('MISS');
      expect(plain.headers['x-cache']).toBe('HIT');
    });
  });
});

describe('trustForwardedHost: true keys on the first X-Forwarded-Host value', () => {
  let app: INestApplication;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    app = await createDecoratedApp({
      store: 'redis',
      namespace: `${namespace}forwarded:`,
      controllers: [TenantsController],
      http: { trustForwardedHost: true },
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('gives each forwarded host its own entry', async () => {
    const a = await http()
      .get('/tenants/echo')
      .set('host', 'proxy.internal')
      .set('x-forwarded-host', 'a.example')
      .expect(200);
    const b = await http()
      .get('/tenants/echo')
      .set('host', 'proxy.internal')
      .set('x-forwarded-host', 'b.example, proxy.internal')
      .expect(200);
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    const again = await http()
      .get('/tenants/echo')
      .set('host', 'other.internal')
      .set('x-forwarded-host', 'b.example')
      .expect(200);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body.forwardedHost).toBe('b.example, proxy.internal');
  });

  it('bypasses a forwarded host that could run into the path', async () => {
    const response = await http()
      .get('/tenants/echo')
      .set('host', 'h.example')
      .set('x-forwarded-host', 'x.example/tenants')
      .expect(200);
    expect(response.headers['x-cache']).toBe('BYPASS');
  });
});
