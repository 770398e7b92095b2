#!/usr/bin/env node
// Runs publint on every library package (after `npm run build`); exits non-zero on any error or warning.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { readFileSync } from 'node:fs';

let problems = 0;
for (const name of readdirSync('packages').sort()) {
  const dir = join('packages', name);
  if (!existsSync(join(dir, 'package.json'))) continue;
  if (!existsSync(join(dir, 'dist'))) {
    console.error(`publint ${dir}: no dist/ folder; run "npm run build" first`);
    problems++;
    continue;
  }
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const { messages } = await publint({ pkgDir: dir, level: 'warning', strict: true });
  const bad = messages.filter((m) => m.type !== 'suggestion');
  for (const m of bad) console.error(`publint ${pkg.name}: ${m.type}: ${formatMessage(m, pkg)}`);
  problems += bad.length;
  console.log(`publint ${pkg.name}: ${bad.length === 0 ? 'clean' : `${bad.length} problem(s)`}`);
}
process.exit(problems > 0 ? 1 : 0);
