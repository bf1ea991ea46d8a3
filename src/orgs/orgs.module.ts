import { Module } from '@nestjs/common';
import { OrgsController } from './orgs.controller';
import { OrgsRepository } from './orgs.repository';

@Module({
  controllers: [OrgsController],
  providers: [OrgsRepository],
})
export class OrgsModule {}
