/**
 * A screening report shaped like the platform's: nested, with Dates (which JSON turns into strings
 * and MessagePack keeps), a subject with address history, eight findings, a score and tags. It
 * weighs ~2 KB as JSON, the size the screening cache mostly holds.
 */
export interface ScreeningReport {
  id: string;
  orgId: string;
  status: 'pending' | 'in_progress' | 'completed';
  package: string;
  requestedBy: string;
  createdAt: Date;
  updatedAt: Date;
  subject: {
    id: string;
    firstName: string;
    lastName: string;
    dateOfBirth: Date;
    ssnLast4: string;
    email: string;
    addresses: Array<{
      line1: string;
      city: string;
      region: string;
      postalCode: string;
      country: string;
      from: Date;
      to: Date | null;
    }>;
  };
  findings: Array<{
    id: string;
    type: 'criminal' | 'employment' | 'education' | 'motor_vehicle' | 'sanctions';
    severity: 'info' | 'low' | 'medium' | 'high';
    source: string;
    summary: string;
    reportedAt: Date;
    verified: boolean;
  }>;
  score: number;
  tags: string[];
}

const TYPES = ['criminal', 'employment', 'education', 'motor_vehicle', 'sanctions'] as const;
const SEVERITIES = ['info', 'low', 'medium', 'high'] as const;
const SOURCES = ['cook-county', 'nsch', 'twn', 'il-sos', 'ofac-sdn'];
const SUMMARIES = [
  'Disposition pending with the clerk.',
  'Dates confirmed; title differs.',
  'Degree verified with the registrar.',
  'Two violations in 36 months.',
  'No match after secondary review.',
];

export function screeningReport(seed = 1): ScreeningReport {
  const day = (offset: number): Date => new Date(Date.UTC(2024, 0, 1) + (seed * 7 + offset) * 86_400_000);
  return {
    id: `scr_01HZX${String(seed).padStart(8, '0')}`,
    orgId: 'org_0042',
    status: 'in_progress',
    package: 'standard-plus-mvr',
    requestedBy: 'usr_recruiter_314',
    createdAt: day(0),
    updatedAt: day(3),
    subject: {
      id: `sub_${seed}`,
      firstName: 'Jane',
      lastName: 'Doe-Martinez',
      dateOfBirth: new Date(Date.UTC(1990, 4, 17)),
      ssnLast4: '1234',
      email: 'jane.doe-martinez@example.com',
      addresses: [
        {
          line1: '1 Main St Apt 4',
          city: 'Springfield',
          region: 'IL',
          postalCode: '62701',
          country: 'US',
          from: day(-2900),
          to: day(-1500),
        },
        {
          line1: '22 Oak Avenue',
          city: 'Chicago',
          region: 'IL',
          postalCode: '60601',
          country: 'US',
          from: day(-1500),
          to: null,
        },
      ],
    },
    findings: Array.from({ length: 8 }, (_, i) => ({
      id: `fnd_${seed}_${i}`,
      type: TYPES[i % TYPES.length],
      severity: SEVERITIES[i % SEVERITIES.length],
      source: SOURCES[i % SOURCES.length],
      summary: SUMMARIES[i % SUMMARIES.length],
      reportedAt: day(1 + i),
      verified: i % 3 !== 0,
    })),
    score: 87.5,
    tags: ['priority', 'renewal', 'mvr'],
  };
}

/** What JSON round-trips of it: Dates as ISO strings. The JSON codec refuses Dates, by design. */
export function jsonSafe<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}

/**
 * The same report as a JSON API returns it: Dates as ISO strings, nothing JSON cannot hold. The
 * shape most cached values have; `screeningReport` is the rich-typed one.
 */
export function jsonNativeScreeningReport(seed = 1): unknown {
  return jsonSafe(screeningReport(seed));
}
