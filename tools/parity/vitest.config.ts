import { projectConfig } from '../../vitest.shared.mjs';

export default projectConfig('tools-parity', { testTimeout: 300_000 });
