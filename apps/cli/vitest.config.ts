import { projectConfig } from '../../vitest.shared.mjs';

export default projectConfig('cli', { testTimeout: 300_000 });
