import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ComplianceRepository } from './compliance.repository';
import type { ComplianceRuleSet } from './rule-set';

@Controller('compliance')
export class ComplianceController {
  constructor(private readonly ruleSets: ComplianceRepository) {}

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) response: Response): Promise<ComplianceRuleSet> {
    const { ruleSet, outcome } = await this.ruleSets.findById(id);
    response.setHeader('X-Cache', outcome);
    if (!ruleSet) throw new NotFoundException(`Compliance rule set ${id} not found`);
    return ruleSet;
  }
}
