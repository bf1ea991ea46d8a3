import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

describe('README samples marked with their file', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marked = [...readme.matchAll(/<!-- sample: (\S+) -->\n```\w*\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]]);

  it('include the CacheTestingModule example that the suite runs', () => {
    expect(marked.map(([file]) => file)).toContain('test/unit/testing/testing-module.example.spec.ts');
  });

  it.each(marked)('show %s as it is', (file, code) => {
    expect(code).toBe(readFileSync(join(ROOT, file), 'utf8'));
  });
});
