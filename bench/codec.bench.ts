// Loaded on purpose though unused here: some ioredis versions slow msgpackr down once both are in
// the process, and the figure that matters is the one inside a process that talks to Redis.
import 'ioredis';
import { JsonCodec, MsgpackCodec } from '@elile/cache';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { jsonSafe, screeningReport } from './helpers/screening.fixture';
import type { BenchContext, BenchRow, BenchSubject, SubjectResult } from './helpers/subject';
import { syncCost } from './helpers/timing';

const BASE_ENCODE = 'baseline: JSON.stringify';
const BASE_DECODE = 'baseline: JSON.parse';
/** Above the payload size is what `compressionThreshold` users would set; the report exceeds it. */
const COMPRESSION_THRESHOLD = 1024;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Subject {
  name: string;
  encode: () => Buffer | string;
  decode: () => unknown;
}

export const codecBench: BenchSubject = {
  name: 'codec',
  needsRedis: false,
  async run(ctx: BenchContext): Promise<SubjectResult> {
    const report = screeningReport(1);
    // The JSON codec refuses Dates; it gets what JSON.parse of the baseline yields anyway.
    const reportJson = jsonSafe(report);
    const json = JSON.stringify(report);
    const msgpack = new MsgpackCodec();
    const jsonCodec = new JsonCodec();
    const entryMsgpack = new EntryCodec(new MsgpackCodec(), 0);
    const entryDeflate = new EntryCodec(new MsgpackCodec(), COMPRESSION_THRESHOLD);
    const entryJson = new EntryCodec(new JsonCodec(), 0);

    const encoded = {
      msgpack: msgpack.encode(report),
      json: jsonCodec.encode(reportJson),
      entryMsgpack: entryMsgpack.encode(report),
      entryDeflate: entryDeflate.encode(report),
      entryJson: entryJson.encode(reportJson),
    };
    if (!(encoded.entryDeflate[2] & 1)) throw new Error('EntryCodec with compression did not compress the report');

    const subjects: Subject[] = [
      { name: 'MsgpackCodec', encode: () => msgpack.encode(report), decode: () => msgpack.decode(encoded.msgpack) },
      { name: 'JsonCodec', encode: () => jsonCodec.encode(reportJson), decode: () => jsonCodec.decode(encoded.json) },
      {
        name: 'EntryCodec(msgpack)',
        encode: () => entryMsgpack.encode(report),
        decode: () => entryMsgpack.decode(encoded.entryMsgpack),
      },
      {
        name: `EntryCodec(msgpack, deflate >=${COMPRESSION_THRESHOLD} B)`,
        encode: () => entryDeflate.encode(report),
        decode: () => entryDeflate.decode(encoded.entryDeflate),
      },
      {
        name: 'EntryCodec(json)',
        encode: () => entryJson.encode(reportJson),
        decode: () => entryJson.decode(encoded.entryJson),
      },
    ];

    const repeats = Math.max(5, ctx.config.repeats);
    const cost = (name: string, fn: () => unknown) => {
      ctx.progress(`codec: ${name}`);
      return syncCost(fn, { repeats });
    };
    const rows: BenchRow[] = [];
    const encodeCost = cost(BASE_ENCODE, () => JSON.stringify(report));
    rows.push({
      operation: BASE_ENCODE,
      cpuUsPerOp: encodeCost.usPerOp,
      bytes: Buffer.byteLength(json),
      samples: { cpuUsPerOp: encodeCost.samples },
    });
    const decodeCost = cost(BASE_DECODE, () => JSON.parse(json));
    rows.push({
      operation: BASE_DECODE,
      cpuUsPerOp: decodeCost.usPerOp,
      bytes: Buffer.byteLength(json),
      samples: { cpuUsPerOp: decodeCost.samples },
    });
    // What JSON costs when the Dates must come back as Dates, as msgpack returns them.
    const reviveCost = cost('JSON.parse + Date reviver', () =>
      JSON.parse(json, (_key, value) => (typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value)),
    );
    rows.push({
      operation: 'JSON.parse + Date reviver',
      baseline: BASE_DECODE,
      cpuUsPerOp: reviveCost.usPerOp,
      samples: { cpuUsPerOp: reviveCost.samples },
    });

    for (const subject of subjects) {
      const bytes = subject.encode().length;
      const enc = cost(`${subject.name}.encode`, subject.encode);
      rows.push({
        operation: `${subject.name}.encode`,
        baseline: BASE_ENCODE,
        cpuUsPerOp: enc.usPerOp,
        bytes,
        samples: { cpuUsPerOp: enc.samples },
      });
      const dec = cost(`${subject.name}.decode`, subject.decode);
      rows.push({
        operation: `${subject.name}.decode`,
        baseline: BASE_DECODE,
        cpuUsPerOp: dec.usPerOp,
        bytes,
        samples: { cpuUsPerOp: dec.samples },
      });
    }

    return {
      rows,
      notes: [
        `In this process (ioredis loaded), CPU time per call, median of ${repeats} loops of ~40 ms each after warm-up. JsonCodec/EntryCodec(json) encode the JSON-safe copy (Dates as strings), as the JSON codec refuses Dates.`,
        `Baseline decode parses a string (ioredis already decoded UTF-8); the codecs decode from the Buffer Redis returned.`,
      ],
      details: {
        ioredisLoaded: Object.keys(require.cache).some((path) => path.includes('/node_modules/ioredis/')),
        jsonBytes: Buffer.byteLength(json),
        sizes: Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.length])),
      },
    };
  },
};
