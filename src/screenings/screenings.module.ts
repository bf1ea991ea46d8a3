import { Module } from '@nestjs/common';
import { ScreeningsController } from './screenings.controller';
import { ScreeningsRepository } from './screenings.repository';
import { ScreeningsService } from './screenings.service';

@Module({
  controllers: [ScreeningsController],
  providers: [ScreeningsRepository, ScreeningsService],
})
export class ScreeningsModule {}
