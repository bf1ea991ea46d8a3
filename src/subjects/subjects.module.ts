import { Module } from '@nestjs/common';
import { SubjectsController } from './subjects.controller';
import { SubjectsRepository } from './subjects.repository';

@Module({
  controllers: [SubjectsController],
  providers: [SubjectsRepository],
})
export class SubjectsModule {}
