import { projectConfig } from '../../vitest.shared.mjs';

// The browser test builds the app when dist/ is missing and runs it twice (wasm, webgpu) in Chromium.
export default projectConfig('web', { testTimeout: 300_000 });
