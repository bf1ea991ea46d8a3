import { ConflictException } from '@nestjs/common';

/** A write carried a fencing token lower than one the row has seen: a newer lock holder exists. */
export class StaleWriteError extends ConflictException {
  constructor(id: string) {
    super(`Screening ${id} was changed by a newer lock holder; this write was refused`);
  }
}
