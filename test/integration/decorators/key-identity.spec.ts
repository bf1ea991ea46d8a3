import { Controller, Get, Injectable, type INestApplication, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import request from 'supertest';
import { Cacheable, CacheRegistry, WithLock } from '@elile/cache';
import { createDecoratedApp } from '../../fixtures/decorated-app';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

/** A base repository whose decorated method subclasses share: their entries must not. */
abstract class TableRepository {
  runs = 0;
  protected abstract readonly table: string;

  @Cacheable({ cache: 'rows' })
  async findById(id: string): Promise<{ table: string; id: string }> {
    this.runs++;
    return { table: this.table, id };
  }

  @WithLock({ wait: 0, onLocked: 'skip', ttl: 5 })
  async sweep(release: Promise<void>): Promise<string> {
    await release;
    return this.table;
  }
}

@Injectable()
class ScreeningRows extends TableRepository {
  protected readonly table = 'screenings';
}

@Injectable()
class SubjectRows extends TableRepository {
  protected readonly table = 'subjects';
}

class Money {
  readonly #cents: number;
  constructor(cents: number) {
    this.#cents = cents;
  }
  get cents(): number {
    return this.#cents;
  }
}

@Injectable()
class Quotes {
  runs = 0;

  @Cacheable({ cache: 'items' })
  async quote(_input: unknown): Promise<number> {
    this.runs++;
    return this.runs;
  }

  @Cacheable({ cache: 'items', key: (id: string) => id })
  async byId(id: string): Promise<string> {
    this.runs++;
    return `value of "${id}"`;
  }
}

@Controller('tenant')
class TenantController {
  runs = 0;

  @Get(':id')
  @Cacheable({ cache: 'web' })
  find(@Param('id') id: string): { id: string; run: number } {
    return { id, run: ++this.runs };
  }

  @Get('raw/:id')
  @Cacheable({ cache: 'web' })
  raw(@Param('id') id: string, @Res() response: Response): void {
    this.runs++;
    response.json({ id, raw: true });
  }
}

const namespace = uniqueNamespace('key-identity');
let app: INestApplication;

beforeAll(async () => {
  app = await createDecoratedApp({
    store: 'redis',
    namespace,
    providers: [ScreeningRows, SubjectRows, Quotes],
    controllers: [TenantController],
  });
});

afterAll(async () => {
  await app?.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('default keys follow the instance, not the declaring class', () => {
  it('two subclasses of one decorated base method keep separate entries', async () => {
    const screenings = app.get(ScreeningRows);
    const subjects = app.get(SubjectRows);
    expect(await screenings.findById('42')).toEqual({ table: 'screenings', id: '42' });
    expect(await subjects.findById('42')).toEqual({ table: 'subjects', id: '42' });
    expect(await subjects.findById('42')).toEqual({ table: 'subjects', id: '42' });
    expect([screenings.runs, subjects.runs]).toEqual([1, 1]);
  });

  it("two subclasses' default lock keys differ: one does not skip because the other runs", async () => {
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const first = app.get(ScreeningRows).sweep(held);
    const second = await app.get(SubjectRows).sweep(Promise.resolve());
    finish();
    expect([await first, second]).toEqual(['screenings', 'subjects']);
  });
});

describe('arguments without a stable identity bypass the cache instead of colliding', () => {
  it.each([
    ['URLs', new URL('https://tenant-a.example.com/x'), new URL('https://tenant-b.example.com/x')],
    ['instances with #private state', new Money(100), new Money(200)],
    ['Errors', new Error('a'), new Error('b')],
  ])('%s are never served from one another', async (_label, first, second) => {
    const quotes = app.get(Quotes);
    const runs = quotes.runs;
    const a = await quotes.quote(first);
    const b = await quotes.quote(second);
    expect(b).not.toBe(a);
    expect(quotes.runs).toBe(runs + 2);
    expect(app.get(CacheRegistry).get('items').stats().errors).toBeGreaterThan(0);
  });

  it('binary arguments of different types over the same bytes get different keys', async () => {
    const quotes = app.get(Quotes);
    const bytes = Buffer.from([1, 2, 3, 4]);
    const fromBuffer = await quotes.quote(bytes);
    const fromView = await quotes.quote(new Uint16Array(bytes.buffer, bytes.byteOffset, 2));
    expect(fromView).not.toBe(fromBuffer);
    expect(await quotes.quote(Buffer.from([1, 2, 3, 4]))).toBe(fromBuffer);
  });

  it('a key function returning an empty string bypasses the cache; the method still answers', async () => {
    const quotes = app.get(Quotes);
    await expect(quotes.byId('')).resolves.toBe('value of ""');
    await expect(quotes.byId('')).resolves.toBe('value of ""');
  });
});

describe('controller responses stay with their site and their caller', () => {
  const http = () => request(app.getHttpServer());

  it('the host name is part of the default key (a tenant per domain)', async () => {
    const acme = await http().get('/tenant/7').set('Host', 'acme.example.com').expect(200);
    const globex = await http().get('/tenant/7').set('Host', 'globex.example.com').expect(200);
    expect(globex.headers['x-cache']).toBe('MISS');
    expect(globex.body.run).not.toBe(acme.body.run);
    const acmeAgain = await http().get('/tenant/7').set('Host', 'acme.example.com').expect(200);
    expect(acmeAgain.headers['x-cache']).toBe('HIT');
    expect(acmeAgain.body).toEqual(acme.body);
    // Another port may be another site: it is part of the key.
    const otherPort = await http().get('/tenant/7').set('Host', 'acme.example.com:8080').expect(200);
    expect(otherPort.headers['x-cache']).toBe('MISS');
  });

  it.each(['x-api-key', 'proxy-authorization'])('a request carrying %s is bypassed without a scope', async (header) => {
    const first = await http().get('/tenant/8').set(header, 'acme').expect(200);
    const second = await http().get('/tenant/8').set(header, 'globex').expect(200);
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['BYPASS', 'BYPASS']);
    expect(second.body.run).not.toBe(first.body.run);
  });

  it('a handler that writes the response itself (@Res) is never cached, and every call answers', async () => {
    const controller = app.get(TenantController);
    const runs = controller.runs;
    for (let i = 0; i < 2; i++)
      expect((await http().get('/tenant/raw/1').expect(200)).body).toEqual({ id: '1', raw: true });
    expect(controller.runs).toBe(runs + 2);
  });
});
