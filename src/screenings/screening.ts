export interface Screening {
  id: string;
  subjectId: string;
  orgId: string;
  status: 'pending' | 'in_progress' | 'complete';
  createdAt: Date;
  updatedAt: Date;
}

/** A screening's summary for reviewers: derived from the screening and its subject. */
export interface ScreeningReport {
  screeningId: string;
  status: Screening['status'];
  orgId: string;
  subject: { id: string; fullName: string };
  generatedAt: Date;
}

/** Where a read was answered from; the controller reports it as the `X-Cache` header. */
export type CacheOutcome = 'HIT' | 'MISS';

/** The order a screening moves through. */
export const NEXT_STATUS: Record<Screening['status'], Screening['status'] | undefined> = {
  pending: 'in_progress',
  in_progress: 'complete',
  complete: undefined,
};
