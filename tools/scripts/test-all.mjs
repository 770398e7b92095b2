#!/usr/bin/env node
// `npm test`: build every package, type-check, lint, check formatting (Prettier), publint, the install footprint against its budgets, run every vitest suite and the golden-fixture
// parity runner, then print one line "N passed, M failed" (tests from vitest's JSON report; each failed check
// step counts as one failure). Exit code 1 when anything failed.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, existsSync } from 'node:fs';

const env = {
  ...process.env,
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_SKIP_NX_CACHE: process.env.CI ? 'true' : process.env.NX_SKIP_NX_CACHE,
  FORCE_COLOR: '0',
};
const steps = [
  ['build', 'npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static']],
  ['typecheck', 'npx', ['nx', 'run-many', '-t', 'typecheck', '--outputStyle=static']],
  ['lint', 'npx', ['nx', 'run-many', '-t', 'lint', '--outputStyle=static']],
  ['format', 'npx', ['prettier', '--check', '--log-level=warn', '.']],
  ['publint', 'node', ['tools/scripts/publint-all.mjs']],
  // install totals per package against their budgets (a head over 60 MB fails), after the build it packs
  ['footprint', 'node', ['tools/scripts/footprint.mjs']],
  ['parity', 'node', ['--conditions=@hgm/source', '--import', 'tsx', 'tools/parity/src/main.ts', 'fixtures']],
];

const failedSteps = [];
for (const [name, cmd, args] of steps) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    failedSteps.push(name);
    console.log(`=== ${name}: FAILED (exit ${r.status}, ${secs} s)`);
  } else {
    console.log(`=== ${name}: ok (${secs} s)`);
  }
}

const report = '.vitest-results.json';
if (existsSync(report)) rmSync(report);
console.log('\n=== tests: npx vitest run');
const t0 = Date.now();
const v = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { stdio: 'inherit', env });
console.log(`=== tests: exit ${v.status} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed = j.numPassedTests ?? 0;
  failed = (j.numFailedTests ?? 0) + (j.numFailedTestSuites ?? 0);
  skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
} else {
  failed += 1;
  console.log('no vitest JSON report was written');
}
if (v.status !== 0 && failed === 0) failed += 1;
failed += failedSteps.length;
if (failedSteps.length > 0) console.log(`failed checks: ${failedSteps.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
