import { describe } from 'vitest';
import { itInstallsOptionalPackage } from '@hgm/tensor/testing';
import { loadOnnxRuntime } from './ort-node';

describe('optional packages', () => {
  itInstallsOptionalPackage('onnxruntime-node', ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64'], () => {
    const r = loadOnnxRuntime();
    return r.ok ? undefined : r.reason;
  });
});
