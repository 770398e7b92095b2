import { describe } from 'vitest';
import { createRequire } from 'node:module';
import { itInstallsOptionalPackage } from '@hgm/tensor/testing';

describe('optional packages', () => {
  itInstallsOptionalPackage('sharp', ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'], () => {
    try {
      const sharp = createRequire(import.meta.url)('sharp') as { versions?: Record<string, string> };
      return sharp.versions?.['vips'] ? undefined : 'it loaded but reports no libvips version';
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  });
});
