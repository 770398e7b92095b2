import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const backendPackages = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-*',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'webgpu',
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
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
];
