import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const backendPackages = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-*', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu'];

// Heads know features, not encoders: the heads (group merging, refiner, prompts) and the core packages (tensor,
// nn) use only the core packages, so a head never pulls in an encoder, its weights manager or its tokenizer.
const layerConstraints = [
  { sourceTag: 'scope:head', onlyDependOnLibsWithTags: ['scope:core'] },
  { sourceTag: 'scope:core', onlyDependOnLibsWithTags: ['scope:core'] },
];

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.nx/**', '**/*.config.ts', 'vitest.shared.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            // The runtime package is the one library that starts backends (by name, with dynamic imports).
            { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: [] },
            // Model libraries use tfjs-core and each other, never a backend package or an app.
            {
              sourceTag: 'type:lib',
              onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'],
              bannedExternalImports: backendPackages,
            },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:runtime'] },
            ...layerConstraints,
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Tests may use backends and test helpers, but a head's tests still never reach for an encoder.
    files: ['packages/{group-merging,refiner,prompts}/**/*.test.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { allow: [], depConstraints: layerConstraints }] },
  },
];
