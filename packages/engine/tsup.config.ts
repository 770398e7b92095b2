import { defineConfig } from 'tsup';
import { libraryPreset } from '../../tools/scripts/tsup-preset';

export default defineConfig(libraryPreset({ index: 'src/index.ts', node: 'src/node.ts' }));
