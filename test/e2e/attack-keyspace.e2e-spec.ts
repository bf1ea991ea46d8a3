import type { AddressInfo } from 'node:net';
import { Controller, Get, Injectable, Param, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Cacheable, CacheRegistry, CacheSerializationError } from '@elile/cache';
import { createDecoratedApp } from '../fixtures/decorated-app';
import { TenantsController } from '../fixtures/tenant.controllers';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

const namespace = uniqueNamespace('attack-keyspace');

@Injectable()
class Directory {
  runs = 0;
  @Cacheable({ cache: 'web' })
  async lookup(id: string): Promise<object> {
    this.runs++;
    return { directoryEntry: id };
  }
}

@Controller('directory')
class DirectoryController {
  constructor(private readonly directory: Directory) {}
  @Get(':id')
  one(@Param('id') id: string): Promise<object> {
    return this.directory.lookup(id);
  }
}

let app: INestApplication;
beforeAll(async () => {
  app = await createDecoratedApp({
    store: 'redis',
    namespace,
    controllers: [TenantsController, DirectoryController],
    providers: [Directory],
  });
});
afterAll(async () => {
  await app.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('key functions and generated keys share one key space', () => {
  it('a key function’s key that spells another handler’s request key does not fill that handler’s entry', async () => {
    const host = 'cross.example';
    const forgedId = `GET //${host}/tenants/paths`;
    await request(app.getHttpServer())
      .get(`/tenants/keyed/${encodeURIComponent(forgedId)}`)
      .set('host', host)
      .expect(200);
    const victim = await request(app.getHttpServer()).get('/tenants/paths').set('host', host).expect(200);
    expect(victim.body).toMatchObject({ list: true });
  });

  it('a key function’s key that spells a service method’s default key does not fill that method’s entry', async () => {
    const forgedId = 'Directory.lookup:["42"]';
    await request(app.getHttpServer())
      .get(`/tenants/keyed/${encodeURIComponent(forgedId)}`)
      .expect(200);
    await expect(app.get(Directory).lookup('42')).resolves.toEqual({ directoryEntry: '42' });
  });

  it('CacheService.set with a key spelling a request key does not answer that request', async () => {
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const host = `svc.example:${port}`;
    await app.get(CacheRegistry).get('web').set(`GET //${host}/tenants/paths`, { forged: true });
    const victim = await request(app.getHttpServer()).get('/tenants/paths').set('host', host).expect(200);
    expect(victim.body).toMatchObject({ list: true });
  });
});

describe('values whose objects carry __proto__ / constructor / prototype keys', () => {
  it('a response holding such a key is served as the handler returned it, every time (never cached stripped)', async () => {
    const miss = await request(app.getHttpServer())
      .get('/tenants/echo?constructor=Ford&b=1')
      .set('host', 'proto.example')
      .expect(200);
    expect(miss.body.query).toEqual({ constructor: 'Ford', b: '1' });
    const again = await request(app.getHttpServer())
      .get('/tenants/echo?constructor=Ford&b=1')
      .set('host', 'proto.example')
      .expect(200);
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.body.query).toEqual(miss.body.query);
  });

  it('CacheService.set refuses { constructor: "Ford" } instead of storing it stripped', async () => {
    const web = app.get(CacheRegistry).get('web');
    await expect(web.set('car', { make: 'x', constructor: 'Ford' })).rejects.toBeInstanceOf(CacheSerializationError);
    await expect(web.get('car')).resolves.toBeUndefined();
  });
});
