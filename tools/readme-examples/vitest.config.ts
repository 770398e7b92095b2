import { projectConfig } from '../../vitest.shared.mjs';

export default projectConfig('tools-readme-examples', { testTimeout: 120_000 });
