/** Starts the tfjs backend a command asked for and tells the user which one runs (and, verbosely, why others did not). */
import * as tf from '@tensorflow/tfjs-core';
import { BackendStartError, initNodeBackend, type BackendName, type BackendRequest, type PassedOver } from '@hgm/tensor/node';
import { CliError, EXIT } from './exit-codes';

export const BACKEND_CHOICES = ['auto', 'cpu', 'wasm', 'webgpu', 'tensorflow'] as const;

/**
 * What `--backend auto` tries, best first. A hardware WebGPU adapter is taken; @hgm/tensor's auto passes
 * over software ones (lavapipe, SwiftShader: slower than wasm), which `--backend webgpu` still uses.
 */
export const CLI_AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** What was started and why every other backend was not. */
export interface CliBackendReport {
  chosen: BackendName;
  providedBy: string;
  passedOver: { backend: string; reason: string }[];
}

/** One line per backend passed over, with the reason. */
function describePassedOver(passedOver: CliBackendReport['passedOver']): string[] {
  return passedOver.map((p) => `  ${p.backend}: ${p.reason}`);
}

/**
 * Starts the backend. Prints `backend: <name> (<package>)` on stderr, plus the backends passed over
 * when verbose, unless quiet (--json).
 */
export async function startBackend(request: string, options: { verbose: boolean; quiet: boolean; log: (line: string) => void }): Promise<CliBackendReport> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(request)) {
    throw new CliError(`option --backend must be one of ${BACKEND_CHOICES.join(', ')}, found ${JSON.stringify(request)}`, EXIT.usage);
  }
  // Production mode: no debug checks, and no console banner from tfjs (the line below says what runs).
  tf.enableProdMode();
  const reasons = (list: PassedOver[]) => list.map((p) => ({ backend: p.backend, reason: `${p.reason} (${p.detail})` }));
  let report: CliBackendReport;
  try {
    const r = await initNodeBackend(request as BackendRequest, { autoOrder: CLI_AUTO_ORDER });
    report = { chosen: r.chosen, providedBy: r.providedBy, passedOver: reasons(r.passedOver) };
  } catch (e) {
    if (!(e instanceof BackendStartError)) throw e;
    const passedOver = reasons(e.passedOver);
    throw new CliError(
      `backend ${request} could not be started:\n${describePassedOver(passedOver).join('\n')}`,
      EXIT.unavailable,
      request === 'auto' ? undefined : 'try --backend auto (or cpu, which always works)',
    );
  }
  if (!options.quiet) {
    options.log(`backend: ${report.chosen} (${report.providedBy})${request === 'auto' ? ', chosen automatically' : ''}`);
    if (options.verbose && report.passedOver.length > 0) {
      options.log('backends passed over:');
      for (const line of describePassedOver(report.passedOver)) options.log(line);
    }
  }
  return report;
}
