import { BadRequestException, Body, Controller, Get, NotFoundException, Param, Patch, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ThrottledWrite } from '../throttling/throttled-write.decorator';
import type { Subject } from './subject';
import { SubjectsRepository } from './subjects.repository';

@Controller('subjects')
export class SubjectsController {
  constructor(private readonly subjects: SubjectsRepository) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<Subject> {
    const { subject, outcome } = await this.subjects.findById(id);
    response.setHeader('X-Cache', outcome);
    if (!subject) throw new NotFoundException(`Subject ${id} not found`);
    return subject;
  }

  /** A correction of the subject's data. */
  @Patch(':id')
  @ThrottledWrite()
  async correct(@Param('id') id: string, @Body() body: { fullName?: unknown }): Promise<Subject> {
    if (typeof body?.fullName !== 'string' || body.fullName === '') {
      throw new BadRequestException('fullName must be a non-empty string');
    }
    const subject = await this.subjects.correctName(id, body.fullName);
    if (!subject) throw new NotFoundException(`Subject ${id} not found`);
    return subject;
  }
}
