#!/usr/bin/env node
// Creates a library package under packages/<name> with the workspace's build, test, type-check and lint set-up.
// Usage: node tools/scripts/new-package.mjs <name> "<description>" [tag] [subpath ...]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [name, description, tag = 'type:lib', ...subpaths] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: new-package.mjs <name> "<description>" [tag] [subpath ...]');
  process.exit(2);
}
const dir = join('packages', name);
if (existsSync(dir)) {
  console.error(`${dir} exists already`);
  process.exit(1);
}
mkdirSync(join(dir, 'src'), { recursive: true });

const entries = { index: 'src/index.ts' };
for (const sub of subpaths) entries[sub] = `src/${sub}.ts`;
const exportEntry = (base, src) => ({
  '@hgm/source': `./${src}`,
  import: { types: `./dist/${base}.d.ts`, default: `./dist/${base}.js` },
  require: { types: `./dist/${base}.d.cts`, default: `./dist/${base}.cjs` },
});
const exportsMap = { '.': exportEntry('index', 'src/index.ts') };
for (const sub of subpaths) exportsMap[`./${sub}`] = exportEntry(sub, `src/${sub}.ts`);
exportsMap['./package.json'] = './package.json';

const pkg = {
  name: `@hgm/${name}`,
  version: '0.1.0',
  description,
  license: 'Apache-2.0',
  type: 'module',
  sideEffects: false,
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  exports: exportsMap,
  files: ['dist', 'README.md'],
  scripts: {
    build: 'tsup',
    test: 'vitest run',
    typecheck: 'tsc -p tsconfig.json --noEmit',
    lint: 'eslint src',
  },
  nx: { tags: [tag] },
};
writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src', 'tsup.config.ts', 'vitest.config.ts'] }, null, 2) + '\n',
);
writeFileSync(
  join(dir, 'tsup.config.ts'),
  `import { defineConfig } from 'tsup';\nimport { libraryPreset } from '../../tools/scripts/tsup-preset';\n\nexport default defineConfig(libraryPreset(${JSON.stringify(entries)}));\n`,
);
writeFileSync(join(dir, 'vitest.config.ts'), `import { projectConfig } from '../../vitest.shared';\n\nexport default projectConfig('${name}');\n`);
writeFileSync(join(dir, 'README.md'), `# @hgm/${name}\n\n${description}\n`);
writeFileSync(join(dir, 'src', 'index.ts'), `// @hgm/${name}: ${description}\n`);
for (const sub of subpaths) writeFileSync(join(dir, 'src', `${sub}.ts`), `// @hgm/${name}/${sub}\n`);
console.log(`created ${dir}`);
