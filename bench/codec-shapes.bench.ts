// Loaded on purpose though unused here: some ioredis versions slow msgpackr down once both are in
// the process, and the figure that matters is the one inside a process that talks to Redis.
import 'ioredis';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNativeAccelerationEnabled, Packr, type Options as PackrOptions } from 'msgpackr';
import { AutoCodec } from '@elile/cache/codec/auto.codec';
import { mayHoldDangerousJsonKeys, mayHoldDangerousKeys } from '@elile/cache/codec/dangerous-keys.util';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { isJsonNative } from '@elile/cache/codec/json-native.util';
import { JsonCodec } from '@elile/cache/codec/json.codec';
import { MsgpackCodec } from '@elile/cache/codec/msgpack.codec';
import { jsonNativeScreeningReport, screeningReport } from './helpers/screening.fixture';
import { median } from './helpers/timing';

/**
 * What the codec costs per value shape, in CPU time per call: the ~2 KB screening report as a
 * JSON API returns it (JSON-native: Dates as ISO strings) and as the application holds it (rich:
 * 14 Dates), encoded and decoded by what a hand-written cache does (`JSON.parse` of the string
 * ioredis returns; with a Date reviver for the rich shape), by msgpack as the codec configures it
 * and in variants, and by the codecs and the entry codec around them.
 *
 *   taskset -c 1 node -r @swc-node/register bench/codec-shapes.bench.ts [rounds] [blockMs]
 *
 * With MSGPACKR_NATIVE_ACCELERATION_DISABLED=true, msgpackr decodes strings in JavaScript, as it
 * does wherever its optional native addon is not installed.
 *
 * Each group runs in rounds; a round measures every case of the group once, for `blockMs` of CPU
 * time each, in an order rotated from round to round, so that a case and its baseline are
 * measured under the same background load. Reported: the median over rounds and its spread
 * (min–max), and the median and spread of the per-round ratio to the group's baseline.
 */

const ROUNDS = Number(process.argv[2] ?? 10);
const BLOCK_MS = Number(process.argv[3] ?? 25);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const reviveDates = (_key: string, value: unknown): unknown =>
  typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;

/** MsgpackCodec's own options (msgpack.codec.ts); the variants change one thing each. */
const CONFIGURED: PackrOptions = { useRecords: true, mapsAsObjects: false, moreTypes: true, int64AsType: 'bigint' };
const VARIANTS: Record<string, PackrOptions> = {
  'msgpackr as configured': CONFIGURED,
  'msgpackr + bundleStrings': { ...CONFIGURED, bundleStrings: true },
  // Cannot tell a Map from an object any more: measured to see what records cost, not a candidate.
  'msgpackr, useRecords off': { ...CONFIGURED, useRecords: false, mapsAsObjects: true },
  // Structures kept in the Packr instead of each entry: every process would have to share them.
  'msgpackr + shared structures': { ...CONFIGURED, structures: [] },
};

/** Before this change: three searches of the raw bytes, whatever the codec. */
const OLD_MARKERS = ['__proto__', 'constructor', 'prototype'].map((key) => Buffer.from(key));

interface Case {
  readonly name: string;
  readonly fn: () => unknown;
}

interface Group {
  readonly title: string;
  readonly baseline: Case;
  readonly cases: readonly Case[];
}

interface CaseResult {
  name: string;
  usPerOp: number;
  usMin: number;
  usMax: number;
  ratio?: number;
  ratioMin?: number;
  ratioMax?: number;
  samples: number[];
}

let sink = 0;
const fold = (value: unknown): void => {
  sink = (sink + (typeof value === 'object' && value !== null ? 1 : String(value).length)) | 0;
};

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Iterations that take about `BLOCK_MS` of CPU, after a warm-up that lets the JIT settle. */
function calibrate(fn: () => unknown): number {
  let iterations = 0;
  const start = cpuUs();
  while (cpuUs() - start < 200_000) {
    for (let i = 0; i < 100; i++) fold(fn());
    iterations += 100;
  }
  const usPerOp = (cpuUs() - start) / iterations;
  return Math.max(100, Math.round((BLOCK_MS * 1000) / usPerOp));
}

function block(fn: () => unknown, iterations: number): number {
  const start = cpuUs();
  for (let i = 0; i < iterations; i++) fold(fn());
  return (cpuUs() - start) / iterations;
}

function runGroup(group: Group): CaseResult[] {
  const all = [group.baseline, ...group.cases];
  const iterations = all.map((c) => calibrate(c.fn));
  const samples = all.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < all.length; k++) {
      const index = (k + round) % all.length;
      samples[index].push(block(all[index].fn, iterations[index]));
    }
  }
  return all.map((c, index) => {
    const result: CaseResult = {
      name: c.name,
      usPerOp: median(samples[index]),
      usMin: Math.min(...samples[index]),
      usMax: Math.max(...samples[index]),
      samples: samples[index],
    };
    if (index > 0) {
      const ratios = samples[index].map((us, round) => us / samples[0][round]);
      Object.assign(result, { ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios) });
    }
    return result;
  });
}

function groups(): Group[] {
  const native = jsonNativeScreeningReport(1);
  const rich = screeningReport(1);
  const nativeText = JSON.stringify(native);
  const nativeBytes = Buffer.from(nativeText);

  const msgpack = new MsgpackCodec();
  const json = new JsonCodec();
  const autoCodec = new AutoCodec();
  const entries = {
    msgpack: new EntryCodec(new MsgpackCodec(), 0),
    json: new EntryCodec(new JsonCodec(), 0),
    auto: new EntryCodec(new AutoCodec(), 0),
  };
  const packrs = Object.entries(VARIANTS).map(([name, options]) => ({ name, packr: new Packr(options) }));

  const nativeEntries = {
    msgpack: entries.msgpack.encode(native),
    json: entries.json.encode(native),
    auto: entries.auto.encode(native),
  };
  const richEntries = { msgpack: entries.msgpack.encode(rich), auto: entries.auto.encode(rich) };
  if (nativeEntries.auto[1] !== JsonCodec.ID || richEntries.auto[1] !== MsgpackCodec.ID) {
    throw new Error('AutoCodec did not pick JSON for the JSON-native shape and msgpack for the rich one');
  }
  if (!((entries.auto.decode(richEntries.auto) as typeof rich).createdAt instanceof Date)) {
    throw new Error('AutoCodec lost the Dates of the rich shape');
  }
  const msgpackOf = { native: msgpack.encode(native), rich: msgpack.encode(rich) };
  const packed = {
    native: packrs.map(({ packr }) => packr.pack(native)),
    rich: packrs.map(({ packr }) => packr.pack(rich)),
  };

  const decodeVariants = (shape: 'native' | 'rich'): Case[] =>
    packrs.map(({ name, packr }, i) => ({ name: `${name}: unpack`, fn: () => packr.unpack(packed[shape][i]) }));
  const encodeVariants = (value: unknown): Case[] =>
    packrs.map(({ name, packr }) => ({ name: `${name}: pack`, fn: () => packr.pack(value) }));
  const oldPreCheck = (bytes: Buffer) => () => OLD_MARKERS.some((marker) => bytes.includes(marker));

  return [
    {
      title: `decode, JSON-native (${nativeBytes.length} B as JSON)`,
      baseline: { name: 'baseline: JSON.parse(bytes.toString())', fn: () => JSON.parse(nativeBytes.toString()) },
      cases: [
        { name: 'JSON.parse(string)', fn: () => JSON.parse(nativeText) },
        ...decodeVariants('native'),
        { name: 'MsgpackCodec.decode', fn: () => msgpack.decode(msgpackOf.native) },
        { name: 'JsonCodec.decode', fn: () => json.decode(nativeBytes) },
        { name: 'EntryCodec(msgpack).decode', fn: () => entries.msgpack.decode(nativeEntries.msgpack) },
        { name: 'EntryCodec(json).decode', fn: () => entries.json.decode(nativeEntries.json) },
        { name: 'EntryCodec(auto).decode (a JSON entry)', fn: () => entries.auto.decode(nativeEntries.auto) },
        { name: 'pre-check before: 3 × Buffer.includes', fn: oldPreCheck(nativeBytes) },
        { name: 'pre-check now: mayHoldDangerousJsonKeys(text)', fn: () => mayHoldDangerousJsonKeys(nativeText) },
        { name: 'entry.subarray(7).toString()', fn: () => nativeEntries.json.subarray(7).toString('utf8') },
        { name: "entry.toString('utf8', 7)", fn: () => nativeEntries.json.toString('utf8', 7) },
      ],
    },
    {
      title: `decode, rich (${Buffer.byteLength(JSON.stringify(rich))} B as JSON)`,
      baseline: {
        name: 'baseline: JSON.parse(bytes.toString(), Date reviver)',
        fn: () => JSON.parse(nativeBytes.toString(), reviveDates),
      },
      cases: [
        { name: 'JSON.parse(bytes.toString()) (Dates lost)', fn: () => JSON.parse(nativeBytes.toString()) },
        ...decodeVariants('rich'),
        { name: 'MsgpackCodec.decode', fn: () => msgpack.decode(msgpackOf.rich) },
        { name: 'EntryCodec(msgpack).decode', fn: () => entries.msgpack.decode(richEntries.msgpack) },
        { name: 'EntryCodec(auto).decode (a msgpack entry)', fn: () => entries.auto.decode(richEntries.auto) },
        { name: 'pre-check before: 3 × Buffer.includes', fn: oldPreCheck(msgpackOf.rich) },
        { name: 'pre-check now: mayHoldDangerousKeys(bytes)', fn: () => mayHoldDangerousKeys(msgpackOf.rich) },
      ],
    },
    {
      title: 'encode, JSON-native',
      baseline: { name: 'baseline: JSON.stringify', fn: () => JSON.stringify(native) },
      cases: [
        { name: 'Buffer.from(JSON.stringify)', fn: () => Buffer.from(JSON.stringify(native)) },
        { name: 'isJsonNative (the whole walk)', fn: () => isJsonNative(native, 64) },
        ...encodeVariants(native),
        { name: 'MsgpackCodec.encode', fn: () => msgpack.encode(native) },
        { name: 'JsonCodec.encode', fn: () => json.encode(native) },
        { name: 'EntryCodec(msgpack).encode', fn: () => entries.msgpack.encode(native) },
        { name: 'EntryCodec(json).encode', fn: () => entries.json.encode(native) },
        { name: 'AutoCodec.encode (walk + JSON)', fn: () => autoCodec.encode(native) },
        { name: 'EntryCodec(auto).encode (walk + JSON + header)', fn: () => entries.auto.encode(native) },
      ],
    },
    {
      title: 'encode, rich',
      baseline: { name: 'baseline: JSON.stringify (Dates become strings)', fn: () => JSON.stringify(rich) },
      cases: [
        { name: 'isJsonNative (up to the first Date)', fn: () => isJsonNative(rich, 64) },
        ...encodeVariants(rich),
        { name: 'MsgpackCodec.encode', fn: () => msgpack.encode(rich) },
        { name: 'EntryCodec(msgpack).encode', fn: () => entries.msgpack.encode(rich) },
        { name: 'AutoCodec.encode (walk + msgpack)', fn: () => autoCodec.encode(rich) },
        { name: 'EntryCodec(auto).encode (walk + msgpack + header)', fn: () => entries.auto.encode(rich) },
      ],
    },
  ];
}

const us = (value: number): string => (value < 10 ? value.toFixed(2) : value.toFixed(1));

function render(title: string, results: CaseResult[]): string {
  const lines = [
    `### ${title}`,
    '',
    '| operation | µs/op (median) | spread (min–max) | vs baseline (median, min–max) |',
    '|---|---|---|---|',
  ];
  for (const r of results) {
    const ratio =
      r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}× (${r.ratioMin!.toFixed(2)}–${r.ratioMax!.toFixed(2)})`;
    lines.push(`| ${r.name} | ${us(r.usPerOp)} | ${us(r.usMin)}–${us(r.usMax)} | ${ratio} |`);
  }
  return lines.join('\n');
}

function main(): void {
  const report: Record<string, CaseResult[]> = {};
  const out: string[] = [
    `CPU µs per call; ${ROUNDS} rounds of ${BLOCK_MS} ms blocks per case, cases rotated per round; ` +
      `node ${process.version}, ioredis loaded: ${Object.keys(require.cache).some((p) => p.includes('/node_modules/ioredis/'))}, ` +
      `msgpackr native string extraction (msgpackr-extract): ${isNativeAccelerationEnabled}.`,
  ];
  for (const group of groups()) {
    process.stderr.write(`${group.title}...\n`);
    const results = runGroup(group);
    report[group.title] = results;
    out.push('', render(group.title, results));
  }
  out.push('', `(sink ${sink})`);
  process.stdout.write(`${out.join('\n')}\n`);
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'codec-shapes.json'), JSON.stringify({ rounds: ROUNDS, blockMs: BLOCK_MS, report }, null, 2));
}

main();
