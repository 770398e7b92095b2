/**
 * `npm run bench -- <topic> [args...]`: runs `./<topic>.ts` (its exported `run(args)`), which prints its
 * own table. `npm run bench` with no topic lists the topics.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHgmError } from '@hgm/tensor';

interface BenchModule {
  run(args: string[]): Promise<void>;
}

function topics(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'main.ts' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(): Promise<void> {
  const [topic, ...rest] = process.argv.slice(2);
  const known = topics();
  if (!topic || topic === '--help') {
    console.log(`usage: npm run bench -- <topic> [args]\ntopics: ${known.join(', ')}`);
    return;
  }
  if (!known.includes(topic)) {
    console.error(`unknown benchmark ${JSON.stringify(topic)}; topics: ${known.join(', ')}`);
    process.exit(2);
  }
  const mod = (await import(`./${topic}.ts`)) as BenchModule;
  await mod.run(rest);
}

main().catch((e) => {
  // a typed error (out of memory, a device limit, bad options) is reported by its message, anything else whole
  console.error(isHgmError(e) ? `bench: ${e.name}: ${e.message}` : e);
  process.exit(1);
});
