import type { INestApplication } from '@nestjs/common';
import request, { type Response } from 'supertest';
import { createDecoratedApp } from '../fixtures/decorated-app';
import { LockAboveController, LockBelowController, RequestGates } from '../fixtures/with-lock.controllers';
import { within } from '../support/settles-within';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

// Two instances of the HTTP application on one Redis and one namespace, as two pods behind a
// load balancer. The gates (shared by both) hold a handler inside its lock until the test opens it.
const namespace = uniqueNamespace('with-lock-e2e');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each([
  ['@WithLock above @Post', '/locked-above'],
  ['@Post above @WithLock', '/locked-below'],
])('%s on a controller (Redis)', (_label, base) => {
  const gates = new RequestGates();
  let apps: INestApplication[];
  let urls: string[];

  beforeAll(async () => {
    apps = await Promise.all(
      ['A', 'B'].map(() =>
        createDecoratedApp({
          store: 'redis',
          namespace,
          controllers: [LockAboveController, LockBelowController],
          providers: [{ provide: RequestGates, useValue: gates }],
        }),
      ),
    );
    // createDecoratedApp listens already: concurrent supertest requests against an unbound server
    // would each try to bind it.
    urls = await Promise.all(apps.map((app) => app.getUrl()));
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  const post = (url: string, id: string) => request(url).post(`${base}/${id}`);
  /** Starts the request now (supertest is lazy) and keeps its response. */
  const start = (url: string, id: string): Promise<Response> => post(url, id).then((response) => response);

  /**
   * Two requests for one id at once: the one that gets the lock is held at the gate, so the other
   * must answer on its own — with 409 — before the gate opens. Without exclusion both would wait
   * at the gate and the race below would time out.
   */
  async function raceForOneId(id: string, targets: [string, string]) {
    const gate = gates.arm(id);
    const requests = targets.map((url) => start(url, id));
    const firstAnswer = await within(Promise.race(requests), 3_000);
    gate.open();
    const responses = await Promise.all(requests);
    return { firstAnswer, responses, passed: gate.passed() };
  }

  it.each([
    ['on one instance', [0, 0]],
    ['on two instances', [0, 1]],
  ] as const)(
    'two concurrent requests for the same id %s → one 201 and one 409 with a JSON body',
    async (_where, [x, y]) => {
      const id = `same-${x}${y}`;
      const { firstAnswer, responses, passed } = await raceForOneId(id, [urls[x], urls[y]]);

      expect(firstAnswer).not.toBe('timed out');
      expect((firstAnswer as Response).status).toBe(409);
      expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
      expect(passed).toBe(1);

      const conflict = responses.find((response) => response.status === 409)!;
      expect(conflict.headers['content-type']).toMatch(/application\/json/);
      expect(conflict.body).toEqual({ statusCode: 409, error: 'Conflict', message: expect.any(String) });
      expect(conflict.body.message.length).toBeGreaterThan(0);

      const created = responses.find((response) => response.status === 201)!;
      expect(created.body).toMatchObject({ id, key: `screening:${id}`, held: true, aborted: false });
    },
  );

  it('requests for different ids run concurrently and both succeed', async () => {
    const gateX = gates.arm('diff-x');
    const gateY = gates.arm('diff-y');
    const requests = [start(urls[0], 'diff-x'), start(urls[1], 'diff-y')];
    // Both handlers are inside their locks at the same time.
    expect(await within(Promise.all([gateX.entered, gateY.entered]), 3_000)).not.toBe('timed out');
    gateX.open();
    gateY.open();
    const responses = await Promise.all(requests);
    expect(responses.map((response) => response.status)).toEqual([201, 201]);
    expect(responses.map((response) => response.body.key)).toEqual(['screening:diff-x', 'screening:diff-y']);
  });

  it('the handler reads its lock with currentLock(): key, and a fencing token increasing across requests', async () => {
    const first = await post(urls[0], 'token-1').expect(201);
    const second = await post(urls[1], 'token-1').expect(201);
    expect(first.body).toMatchObject({ id: 'token-1', key: 'screening:token-1', held: true, aborted: false });
    expect(typeof first.body.fencingToken).toBe('number');
    expect(second.body.fencingToken).toBeGreaterThan(first.body.fencingToken);
  });

  it('the lock is released after the response: the next request for the id is not refused', async () => {
    await post(urls[0], 'again-1').expect(201);
    await post(urls[0], 'again-1').expect(201);
    await post(urls[1], 'again-1').expect(201);
  });
});
