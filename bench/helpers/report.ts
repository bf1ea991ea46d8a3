import type { BenchRow, SubjectResult, Target } from './subject';
import { type Column, fmt, renderTable, type TableLine } from './table';
import { median } from './timing';

/**
 * ours / baseline of one metric. For rows measured in block pairs, the median of the per-pair
 * ratios with their min and max; otherwise the ratio of the two rows' figures (`pairs` absent).
 */
export interface RatioFigure {
  value: number;
  min?: number;
  max?: number;
  pairs?: number;
}

export interface Ratios {
  p50?: RatioFigure;
  p99?: RatioFigure;
  opsPerSec?: RatioFigure;
  cpuUsPerOp?: RatioFigure;
}

export interface TargetVerdict extends Target {
  ratio?: number;
  /** Pairs whose own ratio meets the target, when measured in pairs. */
  pairsMeeting?: number;
  pass: boolean;
  text: string;
}

export interface ReportedRow extends BenchRow {
  /** ours / baseline, for every metric both rows have. */
  ratios?: Ratios;
  verdicts?: TargetVerdict[];
}

export interface ReportedSubject extends SubjectResult {
  name: string;
  rows: ReportedRow[];
  durationMs: number;
}

const RATIO_OF: Record<Target['metric'], keyof Ratios> = {
  opsPerSec: 'opsPerSec',
  p50Us: 'p50',
  p99Us: 'p99',
  cpuUsPerOp: 'cpuUsPerOp',
};

const LABEL: Record<Target['metric'], string> = {
  opsPerSec: 'ops/s',
  p50Us: 'p50',
  p99Us: 'p99',
  cpuUsPerOp: 'cpu us/op',
};

function ratioOf(row: BenchRow, base: BenchRow, metric: Target['metric']): RatioFigure | undefined {
  const perPair = row.pairRatios?.[metric];
  if (perPair?.length)
    return { value: median(perPair), min: Math.min(...perPair), max: Math.max(...perPair), pairs: perPair.length };
  const ours = row[metric];
  const theirs = base[metric];
  return ours === undefined || theirs === undefined || theirs === 0 ? undefined : { value: ours / theirs };
}

const meets = (target: Target, value: number): boolean =>
  (target.atLeast === undefined || value >= target.atLeast) && (target.atMost === undefined || value <= target.atMost);

/** Adds ratios against each row's baseline and judges the targets on the median; nothing is asserted. */
export function judge(name: string, result: SubjectResult, durationMs: number): ReportedSubject {
  const byOperation = new Map(result.rows.map((row) => [row.operation, row]));
  const rows = result.rows.map((row): ReportedRow => {
    if (!row.baseline) return row;
    const base = byOperation.get(row.baseline);
    if (!base) throw new Error(`Bench "${name}": row "${row.operation}" names unknown baseline "${row.baseline}"`);
    const ratios: Ratios = {
      p50: ratioOf(row, base, 'p50Us'),
      p99: ratioOf(row, base, 'p99Us'),
      opsPerSec: ratioOf(row, base, 'opsPerSec'),
      cpuUsPerOp: ratioOf(row, base, 'cpuUsPerOp'),
    };
    const verdicts = (row.targets ?? []).map((target): TargetVerdict => {
      const figure = ratios[RATIO_OF[target.metric]];
      const pass = figure !== undefined && meets(target, figure.value);
      const perPair = row.pairRatios?.[target.metric];
      const pairsMeeting = perPair?.length ? perPair.filter((value) => meets(target, value)).length : undefined;
      const bound =
        target.atLeast !== undefined ? `>=${target.atLeast.toFixed(2)}x` : `<=${target.atMost?.toFixed(2)}x`;
      const ofPairs = pairsMeeting === undefined ? '' : `; ${pairsMeeting}/${perPair?.length} pairs`;
      const text = `${LABEL[target.metric]} ${bound} ${pass ? 'PASS' : 'MISS'} (${fmt.ratio(figure?.value)}${ofPairs})`;
      return { ...target, ratio: figure?.value, pairsMeeting, pass, text };
    });
    return { ...row, ratios, verdicts };
  });
  return { ...result, name, rows, durationMs };
}

const COLUMNS: Column[] = [
  { header: 'operation', align: 'left' },
  { header: 'p50 us' },
  { header: 'p99 us' },
  { header: 'ops/s' },
  { header: 'cpu us/op' },
  { header: 'bytes' },
  { header: 'p50 x' },
  { header: 'p50 x min-max' },
  { header: 'ops/s x' },
  { header: 'ops/s x min-max' },
  { header: 'p99 x' },
  { header: 'cpu x' },
  { header: 'target (ours/baseline, on the median)', align: 'left' },
];

const spread = (figure: RatioFigure | undefined): string =>
  figure?.min === undefined || figure.max === undefined ? '' : `${figure.min.toFixed(2)}-${figure.max.toFixed(2)}`;

export function renderReport(subjects: readonly ReportedSubject[]): string {
  const lines: TableLine[] = [];
  let pairs: number | undefined;
  for (const subject of subjects) {
    lines.push({ section: subject.name });
    for (const row of subject.rows) {
      pairs ??= row.ratios?.p50?.pairs ?? row.ratios?.opsPerSec?.pairs;
      lines.push([
        row.baseline ? `  ${row.operation}` : row.operation,
        fmt.us(row.p50Us),
        fmt.us(row.p99Us),
        fmt.count(row.opsPerSec),
        fmt.us(row.cpuUsPerOp),
        fmt.count(row.bytes),
        fmt.ratio(row.ratios?.p50?.value),
        spread(row.ratios?.p50),
        fmt.ratio(row.ratios?.opsPerSec?.value),
        spread(row.ratios?.opsPerSec),
        fmt.ratio(row.ratios?.p99?.value),
        fmt.ratio(row.ratios?.cpuUsPerOp?.value),
        (row.verdicts ?? []).map((verdict) => verdict.text).join('; '),
      ]);
    }
  }
  const legend =
    pairs === undefined
      ? []
      : [
          `x = ours / baseline, per block pair (a block of ours next to one of its baseline, order alternating A-B, B-A): ` +
            `"x" is the MEDIAN of the ${pairs} per-pair ratios, "x min-max" their SPREAD (smallest and largest pair).`,
          "Rows without a spread are one ratio of the two rows' figures. Absolute figures: median over the blocks.",
        ];
  const notes = subjects.flatMap((subject) => (subject.notes ?? []).map((note) => `[${subject.name}] ${note}`));
  return [renderTable(COLUMNS, lines), '', ...legend, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
