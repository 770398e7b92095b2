// Every class of bad input, through the commands a script runs, before any heavy work: the documented exit code,
// one line on stderr naming the input, and under --json the error object {"error": {code, exit, message}} on stdout.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoopbackPort } from '@hgm/tensor/testing';
import { ensureBuilt, repoRoot, runHgm } from './test-support';
import { EXIT } from './exit-codes';

let root: string;
let closedPort: number;
const env = { HGM_OFFLINE: '1' };

beforeAll(async () => {
  ensureBuilt();
  root = await mkdtemp(join(tmpdir(), 'hgm-exit-'));
  await writeFile(join(root, 'a-file'), 'x');
  closedPort = await closedLoopbackPort();
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Case {
  what: string;
  args: () => string[];
  exit: number;
  code: string;
  stderr: RegExp;
  /** Environment of this case (default: offline). */
  env?: () => Record<string, string>;
}

const torch = (f: string) => join(repoRoot, 'fixtures', 'torch', f);
const CASES: Case[] = [
  { what: 'an unknown option', args: () => ['detect', 'x', '--bogus'], exit: EXIT.usage, code: 'usage', stderr: /unknown option '--bogus'/ },
  {
    what: 'a misspelled metric, before the data is read',
    args: () => ['eval', '--data', join(root, 'nope'), '--checkpoint', join(root, 'nope.safetensors'), '--out', join(root, 'o1'), '--metrics', 'pixel_aurocc'],
    exit: EXIT.usage,
    code: 'usage',
    stderr: /option --metrics: unknown metric name "pixel_aurocc"/,
  },
  {
    what: 'a misspelled weights name, with the closest one',
    args: () => ['weights', 'verify', 'clip-vit-l-14-33'],
    exit: EXIT.usage,
    code: 'config',
    stderr: /"clip-vit-l-14-33": not a file and not a catalogue name; did you mean clip-vit-l-14-336\?/,
  },
  {
    what: 'train without --model (the default toy model used to train on real data silently)',
    args: () => ['train', '--data', repoRoot, '--out', join(root, 'o5')],
    exit: EXIT.usage,
    code: 'usage',
    stderr: /no --model given: name the model to train/,
  },
  {
    what: 'a missing weights file',
    args: () => ['weights', 'verify', join(root, 'no.safetensors')],
    exit: EXIT.noInput,
    code: 'input-not-found',
    stderr: /no such file/,
  },
  {
    what: 'a missing --data folder (eval)',
    args: () => ['eval', '--data', join(root, 'nope'), '--checkpoint', join(root, 'nope.safetensors'), '--out', join(root, 'o2')],
    exit: EXIT.noInput,
    code: 'input-not-found',
    stderr: /--data .*nope: no such folder/,
  },
  {
    what: 'a missing dataset (data inspect)',
    args: () => ['data', 'inspect', join(root, 'nope')],
    exit: EXIT.noInput,
    code: 'input-not-found',
    stderr: /dataset .*nope: no such folder/,
  },
  {
    what: 'a missing --data folder (train)',
    args: () => ['train', '--data', join(root, 'nope'), '--out', join(root, 'o3'), '--model', 'tiny', '--backend', 'cpu'],
    exit: EXIT.noInput,
    code: 'input-not-found',
    stderr: /--data .*nope: no such folder/,
  },
  {
    what: 'a file that is not an AnomalyCLIP checkpoint',
    args: () => ['import', 'anomalyclip', torch('tiny-dinov3.pth'), '--out', join(root, 'o4.safetensors'), '--backend', 'cpu'],
    exit: EXIT.dataError,
    code: 'data',
    stderr: /no prompt_learner entry/,
  },
  {
    what: 'weights that must be downloaded while offline',
    args: () => ['weights', 'pull', 'clip-vit-b-16'],
    exit: EXIT.unavailable,
    code: 'weights-unavailable',
    stderr: /offline mode is on; download https:\/\//,
  },
  {
    what: 'a download whose server cannot be reached: the URL and the path to fetch by hand, no partial file named',
    args: () => ['weights', 'pull', 'clip-vit-b-16'],
    env: () => ({ HGM_OFFLINE: '', HF_HUB_OFFLINE: '', HF_ENDPOINT: `http://127.0.0.1:${closedPort}`, HGM_CACHE: join(root, 'cache') }),
    exit: EXIT.unavailable,
    code: 'weights-unavailable',
    stderr:
      /no bytes were received; to fetch it by hand, download http:\/\/127\.0\.0\.1:\d+\/openai\/clip-vit-base-patch16\/resolve\/main\/model\.safetensors and save it as /,
  },
  {
    what: 'a queue nobody listens on',
    args: () => ['queue', 'status', '--queue', `redis://127.0.0.1:${closedPort}`],
    exit: EXIT.unavailable,
    code: 'unavailable',
    stderr: /cannot reach Redis at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
  },
  {
    what: 'an output folder that cannot be created',
    args: () => ['train', '--data', repoRoot, '--out', join(root, 'a-file', 'sub'), '--model', 'tiny', '--backend', 'cpu'],
    exit: EXIT.cantCreate,
    code: 'output-not-writable',
    stderr: /cannot create it \(ENOTDIR\)/,
  },
];

describe('exit codes and --json errors that scripts can trust', () => {
  for (const c of CASES) {
    it(`${c.what}: exit ${c.exit}, one line, and the error object under --json`, async () => {
      const args = c.args();
      const caseEnv = c.env?.() ?? env;
      const plain = await runHgm(args, { env: caseEnv });
      expect(plain.code, plain.stderr).toBe(c.exit);
      expect(plain.stderr).toMatch(c.stderr);
      expect(plain.stderr).not.toMatch(/\n\s+at /); // no stack trace
      const json = await runHgm(args.includes('--json') ? args : [...args, '--json'], { env: caseEnv });
      expect(json.code).toBe(c.exit);
      const out = JSON.parse(json.stdout) as { error: { code: string; exit: number; message: string } };
      expect(out.error).toMatchObject({ code: c.code, exit: c.exit });
      expect(out.error.message).toMatch(c.stderr);
    });
  }
});
