import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CacheMetrics } from '@elile/cache/metrics';

/**
 * `GET /metrics`: the cache's Prometheus metrics (`elile_cache_*`) in the text exposition format,
 * for a Prometheus scrape.
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: CacheMetrics) {}

  @Get()
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    response.setHeader('Content-Type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
