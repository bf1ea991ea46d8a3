import { BadRequestException, Body, Controller, Get, NotFoundException, Param, Patch, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ThrottledWrite } from '../throttling/throttled-write.decorator';
import type { Organization } from './organization';
import { OrgsRepository } from './orgs.repository';

@Controller('orgs')
export class OrgsController {
  constructor(private readonly orgs: OrgsRepository) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<Organization> {
    const { organization, outcome } = await this.orgs.findById(id);
    response.setHeader('X-Cache', outcome);
    if (!organization) throw new NotFoundException(`Organization ${id} not found`);
    return organization;
  }

  @Patch(':id')
  @ThrottledWrite()
  async update(@Param('id') id: string, @Body() body: { name?: unknown }): Promise<Organization> {
    if (typeof body?.name !== 'string' || body.name === '')
      throw new BadRequestException('name must be a non-empty string');
    const organization = await this.orgs.updateName(id, body.name);
    if (!organization) throw new NotFoundException(`Organization ${id} not found`);
    return organization;
  }
}
