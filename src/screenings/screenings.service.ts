import { Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { CacheInvalidator, currentLock, WithLock } from '@elile/cache';
import { NEXT_STATUS, type Screening } from './screening';
import { ScreeningsRepository } from './screenings.repository';

@Injectable()
export class ScreeningsService {
  constructor(
    private readonly screenings: ScreeningsRepository,
    private readonly invalidator: CacheInvalidator,
  ) {}

  /**
   * Moves a screening to its next status. The lock keeps two instances from advancing it at once;
   * its fencing token makes the database refuse a holder whose lock expired meanwhile (a paused
   * process), and the invalidation (the screening and its derived entries, such as its report)
   * runs only once the change is committed.
   */
  @WithLock({ key: (id: string) => `screening:${id}`, ttl: 10, wait: 2 })
  async advance(id: string): Promise<Screening> {
    const { fencingToken } = currentLock()!;
    const screening = this.screenings.loadForUpdate(id, fencingToken);
    if (!screening) throw new NotFoundException(`Screening ${id} not found`);
    const next = NEXT_STATUS[screening.status];
    if (!next) throw new UnprocessableEntityException(`Screening ${id} is already ${screening.status}`);
    this.screenings.saveStatus(id, next, fencingToken);
    await this.invalidator.invalidateScreening(id);
    return { ...screening, status: next };
  }
}
