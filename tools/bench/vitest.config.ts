import { projectConfig } from '../../vitest.shared.mjs';

export default projectConfig('tools-bench', { testTimeout: 300_000 });
