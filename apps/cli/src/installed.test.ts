import { describe } from 'vitest';
import { createRequire } from 'node:module';
import { itInstallsOptionalPackage } from '@hgm/tensor/testing';

describe('optional packages', () => {
  // Dawn's Node binding: it loads without a GPU (no adapter is a skip of the WebGPU tests, not a failure)
  itInstallsOptionalPackage('webgpu', ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'], () => {
    try {
      const webgpu = createRequire(import.meta.url)('webgpu') as { create?: unknown };
      return typeof webgpu.create === 'function' ? undefined : 'it loaded but has no create()';
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  });
});
