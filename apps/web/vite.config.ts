import { defineConfig, defaultClientConditions } from 'vite';

/**
 * The app is built from the workspace packages' sources (the `@hgm/source` condition), so neither the dev
 * server nor the build needs the packages built first. The model runs in a module Web Worker.
 */
export default defineConfig({
  base: './',
  resolve: { conditions: ['@hgm/source', ...defaultClientConditions] },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  server: { port: 5173 },
});
