import { Module } from '@nestjs/common';
import { ScreeningsController } from './screenings.controller';
import { ScreeningsRepository } from './screenings.repository';

@Module({
  controllers: [ScreeningsController],
  providers: [ScreeningsRepository],
})
export class ScreeningsModule {}
