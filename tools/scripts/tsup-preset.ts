import type { Options } from 'tsup';

/**
 * The build every library shares: ESM + CJS + declarations, one entry per public subpath.
 * Dependencies and peer dependencies stay external (tsup's default).
 */
export function libraryPreset(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    splitting: false,
    treeshake: true,
    // import.meta.url in the CommonJS build
    shims: true,
  };
}
