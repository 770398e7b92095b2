/**
 * Maps the errors of the libraries to CLI errors with exit codes: bad data (a corrupt image, an unknown
 * layout, a checkpoint of another configuration, weights that do not fit) is 65, a missing input 66, an
 * unwritable output 73, weights that cannot be fetched 69. Long lists (a state dict with hundreds of
 * missing keys) are shortened.
 */
import { DataError, DatasetError } from '@hgm/data';
import { SafetensorsError, StateDictError, TorchCheckpointError } from '@hgm/tensor';
import { WeightsOfflineError } from '@hgm/backbone/node';
import { CliError, EXIT } from './exit-codes';

/** Keeps the first `max` lines of a message, saying how many were left out. */
export function shortenLines(message: string, max = 24): string {
  const lines = message.split('\n');
  if (lines.length <= max) return message;
  return [...lines.slice(0, max), `  ... and ${lines.length - max} more lines`].join('\n');
}

/** Classifies any thrown value as a {@link CliError}. */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  if (!(e instanceof Error)) return new CliError(String(e), EXIT.software);
  const msg = shortenLines(e.message);
  if (e instanceof WeightsOfflineError) return new CliError(msg, EXIT.unavailable, 'turn offline mode off (unset HGM_OFFLINE / HF_HUB_OFFLINE) or put the file in place');
  if (e instanceof DatasetError) {
    const layout = e.issues.some((i) => i.kind === 'layout');
    return new CliError(msg, EXIT.dataError, layout ? 'run `hgm data inspect <root>` to see what was found, or pass --format' : 'run `hgm data inspect <root>` for the full list');
  }
  if (e instanceof DataError) return new CliError(msg, EXIT.dataError, e.kind === 'corrupt' ? 'replace or remove the file (detect: --skip-corrupt skips unreadable images)' : undefined);
  if (e instanceof StateDictError) return new CliError(msg, EXIT.dataError, 'the weights do not fit this model: check --model / --image-size and the weights files');
  if (e instanceof SafetensorsError) return new CliError(msg, EXIT.dataError);
  if (e instanceof TorchCheckpointError) {
    return new CliError(msg, EXIT.dataError, e.refusedGlobal !== undefined ? 'the file asks to run code on loading; use weights from a source you trust, or their safetensors version' : undefined);
  }
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CliError(msg, EXIT.noInput);
  if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'EPERM') return new CliError(msg, EXIT.cantCreate);
  if (/cannot (create the output folder|write) \((EACCES|EROFS|ENOSPC|EPERM|ENOTDIR|EEXIST)\)/.test(e.message)) return new CliError(msg, EXIT.cantCreate);
  if (/saved for another configuration|not a Dual-Anchor checkpoint|checkpoint .*: (the model configuration|the training set fingerprint|the seed|the batch size) is|not a training checkpoint/.test(e.message)) {
    return new CliError(msg, EXIT.dataError);
  }
  if (/: no such file or folder|: cannot open \(ENOENT\)|does not exist/.test(e.message)) return new CliError(msg, EXIT.noInput);
  if (/: the (pattern|folder) (matches|holds) no image|not an image file|no input images given/.test(e.message)) return new CliError(msg, EXIT.noInput);
  if (/^(unknown weights|weights ".*": not a file and not a catalogue name|verify ".*": not a file)/.test(e.message)) return new CliError(msg, EXIT.noInput);
  if (/download|fetch failed|HTTP \d{3}/i.test(e.message)) return new CliError(msg, EXIT.unavailable);
  if (/no tfjs backend could be started|unknown backend/.test(e.message)) return new CliError(msg, EXIT.unavailable);
  if (/Dual-Anchor config/.test(e.message)) return new CliError(msg, EXIT.usage);
  return new CliError(msg, EXIT.software);
}
