// The example of the README's "Testing your code with CacheTestingModule": a user's service,
// unit-tested with its caching on, without Redis. Keep the two in step.
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Cacheable, CacheEvict } from '@elile/cache';
import { CacheProbe, CacheTestingModule } from '@elile/cache/testing';

@Injectable()
class PricesService {
  lookups = 0;
  private readonly catalog = new Map([
    ['sku-1', 500],
    ['sku-2', 700],
  ]);

  @Cacheable({ cache: 'prices', key: (sku: string) => sku, ttl: 30 })
  async price(sku: string): Promise<number | null> {
    this.lookups++;
    return this.catalog.get(sku) ?? null;
  }

  @CacheEvict({ cache: 'prices', key: (sku: string) => sku })
  async reprice(sku: string, price: number): Promise<void> {
    this.catalog.set(sku, price);
  }
}

describe('PricesService (with CacheTestingModule)', () => {
  let moduleRef: TestingModule;
  let prices: PricesService;
  let probe: CacheProbe;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [CacheTestingModule.forRoot({ domains: { prices: { ttl: 60 } } })],
      providers: [PricesService],
    }).compile();
    await moduleRef.init();
    prices = moduleRef.get(PricesService);
    probe = moduleRef.get(CacheProbe);
  });

  afterAll(() => moduleRef.close());

  beforeEach(async () => {
    await probe.clear();
    prices.lookups = 0;
  });

  it('looks a price up once, then serves it from the cache', async () => {
    expect(await prices.price('sku-1')).toBe(500);
    expect(await prices.price('sku-1')).toBe(500);

    expect(prices.lookups).toBe(1);
    probe.expectMisses('prices', 1);
    probe.expectHits('prices', 1);
    await probe.expectEntry('prices', 'sku-1', 500);
    expect(await probe.entries('prices')).toEqual([{ key: 'sku-1', value: 500, ttl: 30 }]);
  });

  it('looks the price up again after a reprice', async () => {
    expect(await prices.price('sku-2')).toBe(700);
    await prices.reprice('sku-2', 750);
    await probe.expectNoEntry('prices', 'sku-2');

    expect(await prices.price('sku-2')).toBe(750);
    expect(prices.lookups).toBe(2);
  });
});
