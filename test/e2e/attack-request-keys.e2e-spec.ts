import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import type { INestApplication } from '@nestjs/common';
import { parse as parseLegacyUrl } from 'node:url';
import { createDecoratedApp } from '../fixtures/decorated-app';
import { TenantsController } from '../fixtures/tenant.controllers';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

/**
 * A hostile client against cached controller handlers, over a raw socket so that every byte of
 * the request line and the headers is the attacker's. The invariant: whatever the cache does, the
 * echo handler's body always describes the request it is served for (its Host and the query
 * Express parsed from it); a body built for another request is a response served under the wrong
 * key.
 */
const namespace = uniqueNamespace('attack-request-keys');

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

let app: INestApplication;
let port: number;

beforeAll(async () => {
  app = await createDecoratedApp({ store: 'redis', namespace, controllers: [TenantsController] });
  port = (app.getHttpServer().address() as AddressInfo).port;
});

afterAll(async () => {
  await app.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

function send(raw: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

function get(target: string, host: string, method = 'GET'): Promise<RawResponse> {
  return send(`${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

/** What Express hands the handler as `@Query()` for this request target. */
function expressQuery(target: string): unknown {
  // What parseurl (Express's) returns for such targets: the legacy parser's query, before any '#'.
  const query = parseLegacyUrl(target).query;
  return JSON.parse(JSON.stringify(parseQueryString(typeof query === 'string' ? query : '')));
}

/** Sends `seed`, then `victim`; the victim's body must be built for the victim's request. */
async function expectOwnResponse(seed: string, victim: string, host: string) {
  const first = await get(seed, host);
  expect(first.status).toBe(200);
  expect(JSON.parse(first.body).query).toEqual(expressQuery(seed));
  const second = await get(victim, host);
  expect(second.status).toBe(200);
  const body = JSON.parse(second.body);
  expect({ host: body.host, query: body.query }).toEqual({ host, query: expressQuery(victim) });
  return { first, second };
}

describe('query tricks: a cached response is only served to requests Express parses the same', () => {
  it('empty parameters count towards the parser’s 1,000-parameter limit', async () => {
    // querystring.parse (Express 5's default) stops after 1,000 `&`-separated pieces, empty ones
    // included; the key builder drops empty pieces before counting.
    const padded = `/tenants/echo?${'&'.repeat(1000)}x=1`;
    await expectOwnResponse(padded, '/tenants/echo?x=1', 'q1.example');
  });

  it('names that do not percent-decode, which the parser folds into one name', async () => {
    // querystring decodes both `%61%FF` and `a%FF` to "a\uFFFD"; decodeURIComponent throws on both.
    await expectOwnResponse('/tenants/echo?%61%FF=1&a%FF=2', '/tenants/echo?a%FF=2&%61%FF=1', 'q2.example');
  });

  it('a fragment in the request target, which the parser cuts off', async () => {
    await expectOwnResponse('/tenants/echo?b=1#&a=2', '/tenants/echo?a=2&b=1#', 'q3.example');
  });

  it.each([
    ['`+` and `%20`', '/tenants/echo?q=a+b', '/tenants/echo?q=a%20b'],
    ['`a[b]` and `a`', '/tenants/echo?a[b]=1&a=2', '/tenants/echo?a=2&a[b]=1'],
    ['an encoded bracket', '/tenants/echo?a%5Bb%5D=1&a=2', '/tenants/echo?a=2&a%5Bb%5D=1'],
    ['an empty name', '/tenants/echo?=1&b=2', '/tenants/echo?b=2&=1'],
    ['`;` as a separator', '/tenants/echo?a=1;b=2', '/tenants/echo?b=2;a=1'],
    ['duplicate names, swapped', '/tenants/echo?a=1&a=2', '/tenants/echo?a=2&a=1'],
  ])('%s (held)', async (_, seed, victim) => {
    await expectOwnResponse(seed, victim, 'q4.example');
  });
});

describe('host tricks: a response built for one host is never served to another (held)', () => {
  it.each([
    ['letter case', 'victim.example', 'VICTIM.example'],
    ['a trailing dot', 'victim.example', 'victim.example.'],
    ['an IPv6 literal with and without a port', '[::1]:8080', '[::1]'],
    ['two spellings of one IPv6 address', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]'],
    ['a percent-encoded name', 'victim.example', 'victim%2Eexample'],
    ['an empty Host', 'victim.example', ''],
  ])('%s', async (_, seedHost, victimHost) => {
    const seed = await get('/tenants/echo?h=1', seedHost);
    expect(seed.status).toBe(200);
    const victim = await get('/tenants/echo?h=1', victimHost);
    expect(victim.status).toBe(200);
    expect(JSON.parse(victim.body).host).toBe(victimHost);
  });

  it('duplicate Host headers: the key follows the one Node keeps', async () => {
    await get('/tenants/echo?dup=1', 'first.example');
    const raw = await send(
      'GET /tenants/echo?dup=1 HTTP/1.1\r\nHost: second.example\r\nHost: first.example\r\nConnection: close\r\n\r\n',
    );
    if (raw.status === 200) expect(JSON.parse(raw.body).host).toBe('second.example');
    else expect(raw.status).toBe(400);
  });

  it('an absolute-form request line bypasses the cache instead of keying on the Host header', async () => {
    await get('/tenants/echo?abs=1', 'victim.example');
    const forged = await get('http://victim.example/tenants/echo?abs=1', 'attacker.example');
    expect(forged.status).toBe(200);
    expect(forged.headers['x-cache']).toBe('BYPASS');
    expect(JSON.parse(forged.body).host).toBe('attacker.example');
    const victim = await get('/tenants/echo?abs=1', 'victim.example');
    expect(JSON.parse(victim.body).host).toBe('victim.example');
  });

  it('HEAD fills the entry GET reads, with the same body the handler built', async () => {
    const head = await get('/tenants/echo?head=1', 'head.example', 'HEAD');
    expect(head.status).toBe(200);
    const body = await get('/tenants/echo?head=1', 'head.example');
    expect(body.headers['x-cache']).toBe('HIT');
    expect(JSON.parse(body.body)).toMatchObject({ host: 'head.example', query: { head: '1' } });
  });
});

describe('path tricks (held)', () => {
  it.each([
    ['an encoded slash', '/tenants/paths/a%2Fb', 'a/b'],
    ['a backslash', '/tenants/paths/a\\b', 'a\\b'],
    ['a matrix parameter', '/tenants/paths/a;v=1', 'a;v=1'],
    ['percent-encoded unicode', '/tenants/paths/%C3%A9', 'é'],
    ['a decomposed é', '/tenants/paths/e%CC%81', 'e\u0301'],
  ])('%s keeps its own entry', async (_, target, id) => {
    await get('/tenants/paths/a', 'p.example');
    const response = await get(target, 'p.example');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).item).toBe(id);
  });

  it('a double slash is not the single-slash resource’s entry', async () => {
    const single = await get('/tenants/paths/x', 'p.example');
    expect(JSON.parse(single.body).item).toBe('x');
    const double = await get('//tenants/paths/x', 'p.example');
    if (double.status === 200) expect(double.headers['x-cache']).not.toBe('HIT');
  });

  it.each([195, 199, 200, 201, 205, 260])(
    'paths around the key-length bound (%i characters of id) stay apart',
    async (length) => {
      const id = 'z'.repeat(length - 1);
      const a = await get(`/tenants/paths/${id}a`, 'long.example');
      const b = await get(`/tenants/paths/${id}b`, 'long.example');
      expect(JSON.parse(a.body).item).toBe(`${id}a`);
      expect(JSON.parse(b.body).item).toBe(`${id}b`);
    },
  );
});
