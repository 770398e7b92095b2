import { defineProject } from 'vitest/config';

/**
 * Test settings every workspace project shares: sources resolved through the `@hgm/source` export
 * condition, so tests run against `src/` without a build.
 * @param {string} name
 * @param {{ testTimeout?: number }} [overrides]
 */
export function projectConfig(name, overrides = {}) {
  return defineProject({
    resolve: { conditions: ['@hgm/source'] },
    ssr: { resolve: { conditions: ['@hgm/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 120_000,
    },
  });
}
