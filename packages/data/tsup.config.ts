import { defineConfig } from 'tsup';
import { libraryPreset } from '../../tools/scripts/tsup-preset';

// sharp is optional (loaded at run time when installed), so it is not bundled either.
export default defineConfig({ ...libraryPreset({ index: 'src/index.ts', node: 'src/node.ts', browser: 'src/browser.ts' }), external: ['sharp'] });
