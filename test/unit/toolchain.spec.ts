import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CacheRegistry } from '@elile/cache';
import { CacheCoherence } from '@elile/cache/near/cache-coherence';

/**
 * Nest resolves constructor parameters from `design:paramtypes`, which only exists when the
 * compiler emits decorator metadata (SWC: jsc.transform.decoratorMetadata). Without it DI finds
 * nothing and fails in confusing ways, so a change of transformer settings must fail here first.
 */
@Injectable()
class Clock {
  now(): number {
    return 42;
  }
}

@Injectable()
class UsesClockByTypeOnly {
  constructor(readonly clock: Clock) {}
}

describe('toolchain', () => {
  it('emits design:paramtypes for decorated classes', () => {
    expect(Reflect.getMetadata('design:paramtypes', UsesClockByTypeOnly)).toEqual([Clock]);
  });

  it('emits it for the library classes too (they are compiled by the same transformer)', () => {
    const paramtypes = Reflect.getMetadata('design:paramtypes', CacheRegistry) as unknown[] | undefined;
    // The third is injected by its type alone (CacheCoherence), which only the metadata can tell.
    expect(paramtypes).toHaveLength(3);
    expect(paramtypes?.[2]).toBe(CacheCoherence);
  });

  it('lets Nest inject a constructor parameter typed by a class, with no @Inject', async () => {
    const moduleRef = await Test.createTestingModule({ providers: [Clock, UsesClockByTypeOnly] }).compile();
    const consumer = moduleRef.get(UsesClockByTypeOnly);
    expect(consumer.clock).toBeInstanceOf(Clock);
    expect(consumer.clock.now()).toBe(42);
    await moduleRef.close();
  });
});
