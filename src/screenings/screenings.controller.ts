import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Screening } from './screening';
import { ScreeningsRepository } from './screenings.repository';

@Controller('screenings')
export class ScreeningsController {
  constructor(private readonly screenings: ScreeningsRepository) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<Screening> {
    const { screening, outcome } = await this.screenings.findById(id);
    response.setHeader('X-Cache', outcome);
    if (!screening) throw new NotFoundException(`Screening ${id} not found`);
    return screening;
  }
}
