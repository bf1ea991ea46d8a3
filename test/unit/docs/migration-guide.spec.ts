import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const GUIDE = join(ROOT, 'docs', 'migrating-from-cache-manager.md');
const SAMPLES = join(ROOT, 'test', 'fixtures', 'cache-manager-migration');

/** Each code block of the guide, with the sample file its marker names (if any). */
function codeBlocks(markdown: string): Array<{ sample?: string; code: string }> {
  const blocks: Array<{ sample?: string; code: string }> = [];
  const fence = /(?:<!-- sample: (\S+) -->\n)?```\w*\n([\s\S]*?)```/g;
  for (const match of markdown.matchAll(fence)) blocks.push({ sample: match[1], code: match[2] });
  return blocks;
}

describe('docs/migrating-from-cache-manager.md', () => {
  const blocks = codeBlocks(readFileSync(GUIDE, 'utf8'));

  it('shows code only as sample files, which tsc compiles and the e2e test runs', () => {
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.filter((block) => block.sample === undefined)).toEqual([]);
  });

  it.each(blocks.map((block) => [block.sample ?? '(unmarked)', block.code]))('shows %s as it is', (sample, code) => {
    expect(code).toBe(readFileSync(join(SAMPLES, sample), 'utf8'));
  });
});
