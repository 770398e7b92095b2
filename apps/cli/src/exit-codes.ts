/** Exit codes of `hgm` (sysexits-style, so scripts can tell the failures apart). */
export const EXIT = {
  ok: 0,
  /** The command ran and found what it reports as a failure (e.g. `data inspect` errors, a decision threshold exceeded with --fail-on-anomaly). */
  failed: 1,
  /** Bad command line or configuration file. */
  usage: 64,
  /** Bad input data: a missing or corrupt image, an unknown dataset layout, a checkpoint of another configuration. */
  dataError: 65,
  /** A required input file or weights file does not exist. */
  noInput: 66,
  /** Cannot write the output folder. */
  cantCreate: 73,
  /** Weights must be downloaded but the run is offline or the download failed. */
  unavailable: 69,
  /** An internal error (a bug). */
  software: 70,
  /** Interrupted by Ctrl-C (after saving what could be saved). */
  interrupted: 130,
} as const;

/** An error that the CLI reports without a stack trace, with its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    /** A hint printed after the message (what to do next). */
    readonly hint?: string,
  ) {
    super(message);
  }
}
