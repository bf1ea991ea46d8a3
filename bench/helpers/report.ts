import type { BenchRow, SubjectResult, Target } from './subject';
import { type Column, fmt, renderTable, type TableLine } from './table';

export interface Ratios {
  p50?: number;
  p99?: number;
  opsPerSec?: number;
  cpuUsPerOp?: number;
}

export interface TargetVerdict extends Target {
  ratio?: number;
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

const LABEL: Record<Target['metric'], string> = { opsPerSec: 'ops/s', p50Us: 'p50', p99Us: 'p99', cpuUsPerOp: 'cpu us/op' };

const ratio = (ours: number | undefined, base: number | undefined): number | undefined =>
  ours === undefined || base === undefined || base === 0 ? undefined : ours / base;

/** Adds ratios against each row's baseline and judges the targets; nothing is asserted. */
export function judge(name: string, result: SubjectResult, durationMs: number): ReportedSubject {
  const byOperation = new Map(result.rows.map((row) => [row.operation, row]));
  const rows = result.rows.map((row): ReportedRow => {
    if (!row.baseline) return row;
    const base = byOperation.get(row.baseline);
    if (!base) throw new Error(`Bench "${name}": row "${row.operation}" names unknown baseline "${row.baseline}"`);
    const ratios: Ratios = {
      p50: ratio(row.p50Us, base.p50Us),
      p99: ratio(row.p99Us, base.p99Us),
      opsPerSec: ratio(row.opsPerSec, base.opsPerSec),
      cpuUsPerOp: ratio(row.cpuUsPerOp, base.cpuUsPerOp),
    };
    const verdicts = (row.targets ?? []).map((target): TargetVerdict => {
      const value = ratios[RATIO_OF[target.metric]];
      const pass =
        value !== undefined &&
        (target.atLeast === undefined || value >= target.atLeast) &&
        (target.atMost === undefined || value <= target.atMost);
      const bound = target.atLeast !== undefined ? `>=${target.atLeast.toFixed(2)}x` : `<=${target.atMost?.toFixed(2)}x`;
      return { ...target, ratio: value, pass, text: `${LABEL[target.metric]} ${bound} ${pass ? 'PASS' : 'MISS'}` };
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
  { header: 'p99 x' },
  { header: 'ops/s x' },
  { header: 'cpu x' },
  { header: 'target (ours/baseline)', align: 'left' },
];

export function renderReport(subjects: readonly ReportedSubject[]): string {
  const lines: TableLine[] = [];
  for (const subject of subjects) {
    lines.push({ section: subject.name });
    for (const row of subject.rows) {
      lines.push([
        row.baseline ? `  ${row.operation}` : row.operation,
        fmt.us(row.p50Us),
        fmt.us(row.p99Us),
        fmt.count(row.opsPerSec),
        fmt.us(row.cpuUsPerOp),
        fmt.count(row.bytes),
        fmt.ratio(row.ratios?.p50),
        fmt.ratio(row.ratios?.p99),
        fmt.ratio(row.ratios?.opsPerSec),
        fmt.ratio(row.ratios?.cpuUsPerOp),
        (row.verdicts ?? []).map((verdict) => `${verdict.text} (${fmt.ratio(verdict.ratio)})`).join('; '),
      ]);
    }
  }
  const notes = subjects.flatMap((subject) => (subject.notes ?? []).map((note) => `[${subject.name}] ${note}`));
  return [renderTable(COLUMNS, lines), ...(notes.length ? ['', ...notes] : [])].join('\n');
}
