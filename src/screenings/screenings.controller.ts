import { Controller, Get, NotFoundException, Param, Post, Res, UseInterceptors } from '@nestjs/common';
import { LockInterceptor } from '@elile/cache';
import type { Response } from 'express';
import { ThrottledWrite } from '../throttling/throttled-write.decorator';
import type { Screening, ScreeningReport } from './screening';
import { ScreeningsRepository } from './screenings.repository';
import { ScreeningsService } from './screenings.service';

// The lock is taken in the service; this turns "held by another request" into 409 Conflict.
@UseInterceptors(LockInterceptor)
@Controller('screenings')
export class ScreeningsController {
  constructor(
    private readonly screenings: ScreeningsRepository,
    private readonly service: ScreeningsService,
  ) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<Screening> {
    const { screening, outcome } = await this.screenings.findById(id);
    response.setHeader('X-Cache', outcome);
    if (!screening) throw new NotFoundException(`Screening ${id} not found`);
    return screening;
  }

  @Get(':id/report')
  async report(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<ScreeningReport> {
    const { report, outcome } = await this.screenings.report(id);
    response.setHeader('X-Cache', outcome);
    if (!report) throw new NotFoundException(`Screening ${id} not found`);
    return report;
  }

  @Post(':id/advance')
  @ThrottledWrite()
  advance(@Param('id') id: string): Promise<Screening> {
    return this.service.advance(id);
  }
}
