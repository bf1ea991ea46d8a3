require('ioredis');
const v8 = require('v8');
const { Packr } = require('msgpackr');
const mk = (i) => ({ id: 'scr_' + i, subjectId: 'sub_' + i, orgId: 'org_7', status: 'in_progress', package: 'standard', createdAt: new Date(), updatedAt: new Date(),
  subject: { firstName: 'Jane', lastName: 'Doe', dob: new Date('1990-01-01'), ssnLast4: '1234', addresses: [{ line1: '1 Main St', city: 'Springfield', state: 'IL', zip: '62701', from: new Date('2015-01-01') }, { line1: '22 Oak Ave', city: 'Chicago', state: 'IL', zip: '60601', from: new Date('2019-06-01') }] },
  findings: Array.from({ length: 8 }, (_, j) => ({ id: 'f' + j, type: ['criminal', 'employment', 'education', 'mvr'][j % 4], severity: j % 3, source: 'county-court-' + j, summary: 'Record located in county index; disposition pending verification with clerk of court office.', reportedAt: new Date(), verified: j % 2 === 0 })),
  score: 87.5, tags: ['priority', 'renewal'] });
const o = mk(1);
const p1 = new Packr({ moreTypes: true, useRecords: true, int64AsType: 'bigint', mapsAsObjects: false });
const p2 = new Packr({ moreTypes: true, useRecords: false, int64AsType: 'bigint' });
const json = JSON.stringify(o);
console.log('json', json.length, 'v8', v8.serialize(o).length, 'mp-rec', p1.pack(o).length, 'mp', p2.pack(o).length);
function bench(name, fn) { for (let i = 0; i < 20000; i++) fn(); const t = process.hrtime.bigint(); const N = 100000; for (let i = 0; i < N; i++) fn(); console.log(name, Number(process.hrtime.bigint() - t) / N / 1000, 'us'); }
const jb = Buffer.from(json); const vb = v8.serialize(o); const m1 = p1.pack(o); const m2 = p2.pack(o);
bench('JSON.stringify', () => JSON.stringify(o));
bench('JSON.parse(buf->str)', () => JSON.parse(jb.toString()));
bench('v8.serialize', () => v8.serialize(o));
bench('v8.deserialize', () => v8.deserialize(vb));
bench('mp-rec pack', () => p1.pack(o));
bench('mp-rec unpack', () => p1.unpack(m1));
bench('mp pack', () => p2.pack(o));
bench('mp unpack', () => p2.unpack(m2));
console.log(v8.deserialize(v8.serialize({b: Buffer.from('x'), u: new Uint8Array([1]), z: -0, n: 5n})));
try { v8.serialize({f(){}}) } catch (e) { console.log(e.constructor.name, e.message) }
console.log(p1.unpack(p1.pack({m: new Map([['a', {x: 1}]]), o: {a: 1}})));
