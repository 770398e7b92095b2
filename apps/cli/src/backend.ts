/** Starts the tfjs backend a command asked for and tells the user which one runs (and, verbosely, why others did not). */
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend, type BackendReport, type BackendRequest } from '@hgm/tensor/node';
import { CliError, EXIT } from './exit-codes';

export const BACKEND_CHOICES = ['auto', 'cpu', 'wasm', 'webgpu', 'tensorflow'] as const;

/** One line per backend passed over, with the reason. */
export function describePassedOver(report: BackendReport): string[] {
  return report.passedOver.map((p) => `  ${p.backend}: ${p.reason} (${p.detail})`);
}

/**
 * Starts the backend. Prints `backend: <name> (<package>)` on stderr, plus the backends passed over
 * when verbose, unless quiet (--json, where stderr still gets warnings only).
 */
export async function startBackend(request: string, options: { verbose: boolean; quiet: boolean; log: (line: string) => void }): Promise<BackendReport> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(request)) {
    throw new CliError(`option --backend must be one of ${BACKEND_CHOICES.join(', ')}, found ${JSON.stringify(request)}`, EXIT.usage);
  }
  // Production mode: no debug checks, and no console banner from tfjs (the line below says what runs).
  tf.enableProdMode();
  let report: BackendReport;
  try {
    report = await initNodeBackend(request as BackendRequest);
  } catch (e) {
    throw new CliError(`backend ${request}: ${(e as Error).message}`, EXIT.unavailable, request === 'auto' ? undefined : 'try --backend auto (or cpu, which always works)');
  }
  if (!options.quiet) {
    options.log(`backend: ${report.chosen} (${report.providedBy})${request === 'auto' ? ', chosen automatically' : ''}`);
    if (options.verbose && report.passedOver.length > 0) {
      options.log('backends passed over:');
      for (const line of describePassedOver(report)) options.log(line);
    }
  }
  return report;
}
