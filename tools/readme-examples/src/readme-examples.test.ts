// Every package README opens with a runnable example of that package used alone: this runs the first
// TypeScript block of each `packages/*/README.md` (packages added later are picked up) and checks that it
// exits 0 and prints what the README's `text` block after it says.
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractFirstExample, runReadmeExample } from './readme-example';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const packages = readdirSync(join(repoRoot, 'packages')).filter((p) => existsSync(join(repoRoot, 'packages', p, 'package.json')));

describe('extractFirstExample', () => {
  it('takes the first ts block and the text block right after it, and refuses a README without one', () => {
    const md = '# x\n\n```sh\nnpm i x\n```\n\n```ts\nconsole.log(1);\n```\n\n```text\n1\n```\n\n```ts\nlater();\n```\n';
    expect(extractFirstExample(md, 'x')).toEqual({ code: 'console.log(1);\n', prints: ['1'] });
    expect(extractFirstExample('```ts\na();\n```\n\ntext\n```text\nno\n```\n', 'y').prints).toBeUndefined();
    expect(() => extractFirstExample('# none\n', 'README.md')).toThrow(/README\.md: no ```ts code block/);
  });
});

describe.each(packages)('packages/%s/README.md', (pkg) => {
  it('opens with an example that runs alone and prints what the README shows', () => {
    const readme = join(repoRoot, 'packages', pkg, 'README.md');
    expect(existsSync(readme), `${readme} is missing`).toBe(true);
    const { code, prints } = extractFirstExample(readFileSync(readme, 'utf8'), readme);
    expect(code, `${readme}: the example must import the package it documents`).toContain(`from '@hgm/${pkg}`);
    expect(prints, `${readme}: the example must be followed by a \`\`\`text block showing what it prints`).toBeDefined();
    const r = runReadmeExample(code, here, repoRoot);
    expect(r.status, `${readme}: the example exited ${r.status}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.replace(/\n$/, '').split('\n');
    expect(lines).toEqual(prints);
  });
});
