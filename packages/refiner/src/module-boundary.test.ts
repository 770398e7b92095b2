/**
 * Heads know features, not encoders: the Nx module-boundary tags of eslint.config.mjs reject an import of
 * `@hgm/backbone` from any head package (group merging, refiner, prompts), in sources and in tests, and let
 * the core packages (`@hgm/tensor`, `@hgm/nn`) through. Runs ESLint's Node API on small snippets placed in
 * each head's folder.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BOUNDARY_RULE = '@nx/enforce-module-boundaries';

async function boundaryErrors(eslint: ESLint, relativePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${relativePath}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === BOUNDARY_RULE || m.message.includes('ProjectGraph')).map((m) => m.message);
}

describe('module boundaries: heads depend on the core packages only', () => {
  let eslint: ESLint;
  beforeAll(async () => {
    process.env['NX_DAEMON'] = 'false';
    // The rule reads the cached project graph and is skipped without one: build it first.
    const { createProjectGraphAsync } = (await import('nx/src/devkit-exports')) as {
      createProjectGraphAsync: (options?: { exitOnError?: boolean }) => Promise<unknown>;
    };
    await createProjectGraphAsync({ exitOnError: false });
    eslint = new ESLint({ cwd: root });
  }, 180_000);

  const encoderImport = "import { ClipModel } from '@hgm/backbone';\nexport const model = ClipModel;\n";
  const coreImport = "import { linear } from '@hgm/nn';\nimport { Rng } from '@hgm/tensor';\nexport const used = [linear, Rng];\n";

  for (const head of ['refiner', 'group-merging', 'prompts']) {
    it(`fails lint when ${head} imports an encoder (source and test files)`, async () => {
      for (const file of [`packages/${head}/src/boundary-probe.ts`, `packages/${head}/src/boundary-probe.test.ts`]) {
        const errors = await boundaryErrors(eslint, file, encoderImport);
        expect(errors, file).toEqual(['A project tagged with "scope:head" can only depend on libs tagged with "scope:core"']);
      }
    });

    it(`passes lint when ${head} imports @hgm/nn and @hgm/tensor`, async () => {
      expect(await boundaryErrors(eslint, `packages/${head}/src/boundary-probe.ts`, coreImport)).toEqual([]);
    });
  }

  it('fails lint when @hgm/nn imports a package outside the core', async () => {
    const code = "import * as data from '@hgm/data';\nexport const used = data;\n";
    const errors = await boundaryErrors(eslint, 'packages/nn/src/boundary-probe.ts', code);
    expect(errors).toEqual(['A project tagged with "scope:core" can only depend on libs tagged with "scope:core"']);
  });
});
