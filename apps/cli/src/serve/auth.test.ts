import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearerCheck } from './server';
import { isLoopback, serveApiKey } from '../commands/serve';

describe('hgm serve authentication', () => {
  it('bearerCheck accepts exactly Bearer <key> and says what is wrong otherwise', () => {
    const check = bearerCheck('0123456789abcdef0123');
    expect(check('Bearer 0123456789abcdef0123')).toBeUndefined();
    expect(check('bearer   0123456789abcdef0123 ')).toBeUndefined();
    expect(check(undefined)).toMatch(/needs an API key/);
    expect(check('Basic 0123456789abcdef0123')).toMatch(/must be Bearer <key>/);
    expect(check('Bearer 0123456789abcdef012')).toBe('wrong API key');
    expect(check('Bearer 0123456789abcdef01234')).toBe('wrong API key');
    expect(check('Bearer x')).toBe('wrong API key');
  });

  it('isLoopback knows the loopback names and addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.4', 'example.org', '10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });

  it('serveApiKey reads the first line, refuses short keys and open hosts without one, and warns about a readable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-auth-'));
    try {
      const lines: string[] = [];
      const info = (l: string) => lines.push(l);
      expect(await serveApiKey({ host: '127.0.0.1' }, info)).toBeUndefined();
      await expect(serveApiKey({ host: '0.0.0.0' }, info)).rejects.toThrow(/--host 0.0.0.0: refusing to serve a non-loopback address without authentication/);
      expect(await serveApiKey({ host: '0.0.0.0', insecureNoAuth: true }, info)).toBeUndefined();
      expect(lines.pop()).toMatch(/no API key on 0.0.0.0 \(--insecure-no-auth\)/);
      const good = join(dir, 'good.key');
      await writeFile(good, '\n  0123456789abcdef0123  \nignored\n', { mode: 0o600 });
      expect(await serveApiKey({ host: '0.0.0.0', apiKeyFile: good }, info)).toBe('0123456789abcdef0123');
      expect(lines).toEqual([]);
      const open = join(dir, 'open.key');
      await writeFile(open, '0123456789abcdef0123', { mode: 0o644 });
      expect(await serveApiKey({ host: '127.0.0.1', apiKeyFile: open }, info)).toBe('0123456789abcdef0123');
      if (process.platform !== 'win32') expect(lines.pop()).toMatch(/is readable by other users \(mode 644\); chmod 600 it/);
      const spaced = join(dir, 'spaced.key');
      await writeFile(spaced, '0123456789 abcdef0123\n');
      await expect(serveApiKey({ host: '127.0.0.1', apiKeyFile: spaced }, info)).rejects.toThrow(/expected a key of at least 16 characters without spaces/);
      await expect(serveApiKey({ host: '127.0.0.1', apiKeyFile: join(dir, 'missing.key') }, info)).rejects.toThrow(/missing.key: cannot read it \(ENOENT\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
