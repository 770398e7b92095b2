#!/usr/bin/env node
// `npm run footprint`: what installing each package costs. For every package under packages/ and apps/ it
// prints the tarball `npm pack --dry-run` would publish (packed and unpacked size, file count), the closure
// of its runtime dependencies inside the workspace (@hgm/*) and outside it (npm packages, resolved through
// package-lock.json, with their size on disk in node_modules), its peer dependencies, and the install total
// (the package, its workspace closure unpacked, its external closure on disk; peers and the optional
// dependencies of workspace packages not counted).
// Run `npm run build` first: the tarballs hold dist/.
// Options: --json prints the rows as JSON instead of the table. Exit code 1 when a package has no dist/, when
// a head (group-merging, refiner, prompts) reaches @hgm/backbone through its dependencies, or when a package's
// install total is over its budget (BUDGETS: a researcher who picks one head package gets tfjs-core and the
// small packages it needs, not an image-model converter).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const HEADS = ['@hgm/group-merging', '@hgm/refiner', '@hgm/prompts'];
/** Install totals (bytes, required peers included) that a package must stay under. */
const MB = 1024 * 1024;
const BUDGETS = new Map([
  ['@hgm/nn', 60 * MB],
  ['@hgm/losses', 60 * MB],
  ['@hgm/group-merging', 60 * MB],
  ['@hgm/refiner', 60 * MB],
  ['@hgm/prompts', 60 * MB],
  ['@hgm/metrics', 1 * MB],
]);
const ENCODER = '@hgm/backbone';
const asJson = process.argv.includes('--json');

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')).packages;

/** Workspace packages by name: { name, dir, manifest }. */
const workspace = new Map();
for (const parent of ['packages', 'apps']) {
  for (const name of readdirSync(parent).sort()) {
    const dir = join(parent, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    workspace.set(manifest.name, { name: manifest.name, dir, manifest });
  }
}

const missingDist = [...workspace.values()].filter((p) => !existsSync(join(p.dir, 'dist')));
if (missingDist.length > 0) {
  for (const p of missingDist) console.error(`footprint ${p.dir}: no dist/ folder; run "npm run build" first`);
  process.exit(1);
}

/**
 * Runtime dependency names: a workspace package's `dependencies` (its optional ones, such as the tfjs
 * backends `@hgm/tensor` can start, are counted apart: an app opts into them), an npm package's
 * dependencies and optional dependencies (npm installs both).
 */
const runtimeDeps = (manifest, isWorkspace) =>
  Object.keys(isWorkspace ? { ...manifest.dependencies } : { ...manifest.dependencies, ...manifest.optionalDependencies });

/** The lock-file key an installed dependency `name` of the package at lock key `from` resolves to. */
function resolveInLock(from, name) {
  let base = from;
  for (;;) {
    const key = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (lock[key]) return key;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut >= 0 ? base.slice(0, cut) : '';
  }
}

/** Bytes on disk of a folder, without its nested node_modules (counted as packages of their own). */
function diskSize(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskSize(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/** Workspace and external runtime closure of one workspace package. */
function closure(pkg) {
  const inside = new Set();
  const outside = new Map(); // lock key -> name
  const queue = [[pkg.dir, pkg.manifest, true]];
  const optional = new Set();
  while (queue.length > 0) {
    const [from, manifest, isWorkspace] = queue.shift();
    if (isWorkspace) for (const dep of Object.keys(manifest.optionalDependencies ?? {})) optional.add(dep);
    for (const dep of runtimeDeps(manifest, isWorkspace)) {
      const member = workspace.get(dep);
      if (member) {
        if (!inside.has(dep)) {
          inside.add(dep);
          queue.push([member.dir, member.manifest, true]);
        }
        continue;
      }
      const key = resolveInLock(from, dep);
      if (!key) throw new Error(`footprint ${pkg.name}: dependency ${dep} (of ${from}) is not in package-lock.json; run "npm install"`);
      if (outside.has(key)) continue;
      outside.set(key, dep);
      queue.push([key, lock[key], false]);
    }
  }
  // required peers of the package and of its workspace closure, and what they install
  const peers = new Map(); // lock key -> name
  const peerQueue = [];
  for (const manifest of [pkg.manifest, ...[...inside].map((n) => workspace.get(n).manifest)]) {
    for (const dep of Object.keys(manifest.peerDependencies ?? {})) {
      if (manifest.peerDependenciesMeta?.[dep]?.optional) continue;
      const key = resolveInLock('', dep);
      if (!key) throw new Error(`footprint ${pkg.name}: peer dependency ${dep} is not in package-lock.json; run "npm install"`);
      if (peers.has(key) || outside.has(key)) continue;
      peers.set(key, dep);
      peerQueue.push(key);
    }
  }
  while (peerQueue.length > 0) {
    const from = peerQueue.shift();
    for (const dep of runtimeDeps(lock[from], false)) {
      const key = resolveInLock(from, dep);
      if (!key || peers.has(key) || outside.has(key)) continue;
      peers.set(key, dep);
      peerQueue.push(key);
    }
  }
  return { inside: [...inside].sort(), outside, peers, optional: [...optional].sort() };
}

const names = [...workspace.keys()];
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...names.flatMap((n) => ['-w', n])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  }),
);
const tarballs = new Map(packed.map((t) => [t.name, t]));

const rows = names.map((name) => {
  const pkg = workspace.get(name);
  const tarball = tarballs.get(name);
  if (!tarball) throw new Error(`footprint ${name}: npm pack --dry-run returned no tarball for it`);
  const { inside, outside, peers, optional } = closure(pkg);
  const insideUnpacked = inside.reduce((sum, n) => sum + tarballs.get(n).unpackedSize, 0);
  const external = [...outside].map(([key, dep]) => ({ name: dep, version: lock[key].version, bytes: existsSync(key) ? diskSize(key) : 0 }));
  const externalBytes = external.reduce((sum, e) => sum + e.bytes, 0);
  const peerBytes = [...peers.keys()].reduce((sum, key) => sum + (existsSync(key) ? diskSize(key) : 0), 0);
  return {
    name,
    packedBytes: tarball.size,
    unpackedBytes: tarball.unpackedSize,
    files: tarball.entryCount,
    workspaceDeps: inside,
    externalDeps: external.map((e) => `${e.name}@${e.version}`).sort(),
    externalBytes,
    peerDeps: Object.keys(pkg.manifest.peerDependencies ?? {}),
    requiredPeerClosure: [...peers.values()].sort(),
    peerBytes,
    optionalDeps: optional,
    installBytes: tarball.unpackedSize + insideUnpacked + externalBytes + peerBytes,
    budgetBytes: BUDGETS.get(name) ?? null,
  };
});

const problems = rows.filter((r) => HEADS.includes(r.name) && r.workspaceDeps.includes(ENCODER));
for (const r of problems) console.error(`footprint ${r.name}: a head must not depend on ${ENCODER}; it reaches it through ${r.workspaceDeps.join(', ')}`);
const overBudget = rows.filter((r) => r.budgetBytes !== null && r.installBytes > r.budgetBytes);
for (const r of overBudget) {
  console.error(
    `footprint ${r.name}: installs ${(r.installBytes / MB).toFixed(1)} MB, over its budget of ${(r.budgetBytes / MB).toFixed(0)} MB ` +
      `(external: ${r.externalDeps.join(', ') || 'none'}; required peers: ${r.requiredPeerClosure.join(', ') || 'none'})`,
  );
}

if (asJson) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;
  const short = (list) => (list.length === 0 ? '-' : list.map((n) => n.replace('@hgm/', '')).join(', '));
  const externalCell = (r) =>
    r.externalDeps.length === 0
      ? '-'
      : `${r.externalDeps.length} (${r.externalDeps.slice(0, 3).join(', ')}${r.externalDeps.length > 3 ? ', ...' : ''}), ${kb(r.externalBytes)}`;
  const mb = (bytes) => `${(bytes / MB).toFixed(1)} MB`;
  console.log(
    '| package | packed | unpacked | files | workspace deps (closure) | external deps (closure, on disk) | required peers (with their closure, on disk) | optional deps (not counted) | install total | budget |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const peerCell =
      r.requiredPeerClosure.length === 0
        ? '-'
        : `${r.requiredPeerClosure.length} (${r.peerDeps.filter((p) => r.requiredPeerClosure.includes(p)).join(', ') || '...'}), ${mb(r.peerBytes)}`;
    console.log(
      `| \`${r.name}\` | ${kb(r.packedBytes)} | ${kb(r.unpackedBytes)} | ${r.files} | ${short(r.workspaceDeps)} | ${externalCell(r)} | ${peerCell} | ${r.optionalDeps.length} | ${mb(r.installBytes)} | ${r.budgetBytes === null ? '-' : `${mb(r.budgetBytes)}${r.installBytes > r.budgetBytes ? ' OVER' : ''}`} |`,
    );
  }
}
process.exit(problems.length > 0 || overBudget.length > 0 ? 1 : 0);
