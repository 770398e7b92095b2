import { describe, expect, it } from 'vitest';
import { cliInvocation } from './cli-invocation';

describe('cliInvocation', () => {
  it('prints the command that works from a clone, and plain hgm when installed', () => {
    expect(cliInvocation('/repo/apps/cli/src/main.ts', '/repo')).toBe('npm run hgm --');
    expect(cliInvocation('/repo/apps/cli/bin/hgm.js', '/repo')).toBe('node apps/cli/bin/hgm.js');
    expect(cliInvocation('/repo/node_modules/.bin/hgm', '/repo')).toBe('npx hgm');
    expect(cliInvocation('/usr/local/bin/hgm', '/repo')).toBe('hgm');
    expect(cliInvocation(undefined, '/repo')).toBe('hgm');
  });
});
