/**
 * The contract between `run.ts` and one bench file. A subject returns rows; `run.ts` owns the
 * Redis server, the ratios, the targets, the table and the results file, so a new subject only
 * measures.
 */

/** Settings shared by every subject, so one place bounds the run time of `npm run bench`. */
export interface BenchConfig {
  /** Times a measurement with no baseline to alternate with is repeated; the median is reported. */
  repeats: number;
  /** Sequential operations run and discarded before measuring. */
  sequentialWarmup: number;
  /** Sequential operations timed for each latency sample of a measurement without a baseline. */
  sequentialSamples: number;
  /** Block pairs per comparison with a baseline: each gives one ratio (see `compareOps`). */
  pairs: number;
  /** Sequential operations in one block of a pair (its p50/p99 come from these). */
  sequentialBlock: number;
  /** Operations in one loaded block of a pair. */
  throughputBlock: number;
  /** Requests kept outstanding during a loaded block. */
  inFlight: number;
}

export interface BenchContext {
  readonly redisUrl: string;
  readonly config: BenchConfig;
  /** Progress on stderr, so stdout carries only the report. */
  progress(message: string): void;
}

/**
 * A target compares this row with its baseline row: `ratio` is ours/baseline of `metric`.
 * `atLeast` is for throughput, `atMost` for latency.
 */
export interface Target {
  metric: 'opsPerSec' | 'p50Us' | 'p99Us' | 'cpuUsPerOp';
  atLeast?: number;
  atMost?: number;
}

export interface BenchRow {
  operation: string;
  /** Sequential latency of a round trip, microseconds. */
  p50Us?: number;
  p99Us?: number;
  /** Throughput with `config.inFlight` requests outstanding. */
  opsPerSec?: number;
  /**
   * CPU time of one operation, microseconds: for Redis operations this process's CPU per op during
   * the throughput run (robust to host noise); for in-process work (codecs) the cost of one call.
   */
  cpuUsPerOp?: number;
  /** Encoded size, bytes. */
  bytes?: number;
  /** `operation` of the row (same subject) this one is compared with; a baseline has none. */
  baseline?: string;
  targets?: Target[];
  /** Every repeat's or block's figures, so the results file shows the spread behind each median. */
  samples?: Record<string, number[]>;
  /**
   * ours / baseline of each metric, one per block pair, for rows measured in pairs with their
   * baseline; the report then gives their median and spread instead of the ratio of the figures.
   */
  pairRatios?: Partial<Record<Target['metric'], number[]>>;
}

export interface SubjectResult {
  rows: BenchRow[];
  /** Lines printed under the table (what the rows measure, sanity checks). */
  notes?: string[];
  /** Anything else worth keeping in the results file. */
  details?: Record<string, unknown>;
}

export interface BenchSubject {
  /** Short id, used as section title and to select subjects: `npm run bench -- codec`. */
  name: string;
  /** Whether `ctx.redisUrl` must point at a running server. */
  needsRedis: boolean;
  run(ctx: BenchContext): Promise<SubjectResult>;
}
