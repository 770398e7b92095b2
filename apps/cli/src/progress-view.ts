/**
 * Shows progress events: a redrawn bar on a terminal, plain lines elsewhere (CI, pipes), nothing with --json
 * (where stdout carries the result only) except warnings on stderr.
 */
import type { ProgressEvent } from '@hgm/engine';
import { formatDuration } from '@hgm/engine';

export interface ProgressViewOptions {
  mode: 'tty' | 'plain' | 'silent';
  stream?: NodeJS.WriteStream;
}

export function chooseMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressViewOptions['mode'] {
  if (json) return 'silent';
  return stream.isTTY && !process.env['CI'] ? 'tty' : 'plain';
}

function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** Returns a listener that renders events. Plain mode prints at most one step line per ~5% of an epoch. */
export function progressView(options: ProgressViewOptions): (e: ProgressEvent) => void {
  const out = options.stream ?? process.stderr;
  let lastPlainStep = -1;
  let lineOpen = false;
  const endLine = () => {
    if (lineOpen) {
      out.write('\n');
      lineOpen = false;
    }
  };
  return (e) => {
    if (options.mode === 'silent') {
      if (e.type === 'warning') out.write(`warning: ${e.message}\n`);
      return;
    }
    switch (e.type) {
      case 'stage':
        endLine();
        out.write(`${e.message}\n`);
        break;
      case 'warning':
        endLine();
        out.write(`warning: ${e.message}\n`);
        break;
      case 'step': {
        const text = `epoch ${e.epoch}/${e.epochs} step ${e.step}/${e.stepsPerEpoch} loss ${e.loss.toFixed(4)} ${e.imagesPerSecond.toFixed(1)} img/s ETA ${formatDuration(e.etaSeconds)}`;
        if (options.mode === 'tty') {
          out.write(`\r${bar(e.step / e.stepsPerEpoch)} ${text}\x1b[K`);
          lineOpen = true;
        } else {
          // At most about four lines per epoch: enough to follow a run in a CI log without flooding it.
          const every = Math.max(1, Math.ceil(e.stepsPerEpoch / 4));
          const key = e.epoch * 1e6 + e.step;
          if (e.step === 1 || e.step % every === 0 || e.step === e.stepsPerEpoch) {
            if (key !== lastPlainStep) out.write(`${text}\n`);
            lastPlainStep = key;
          }
        }
        break;
      }
      case 'epoch': {
        endLine();
        const terms = Object.entries(e.terms)
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ');
        out.write(
          `epoch ${e.epoch}/${e.epochs} done in ${formatDuration(e.seconds)}: mean loss ${e.meanLoss.toFixed(4)} (${terms})${e.checkpoint ? `; checkpoint ${e.checkpoint}` : ''}\n`,
        );
        break;
      }
      case 'items': {
        const text = `${e.stage} ${e.done}/${e.total} ${e.imagesPerSecond.toFixed(1)} img/s ETA ${formatDuration(e.etaSeconds)}`;
        if (options.mode === 'tty') {
          out.write(`\r${bar(e.done / Math.max(1, e.total))} ${text}\x1b[K`);
          lineOpen = true;
          if (e.done === e.total) endLine();
        } else {
          const every = Math.max(1, Math.floor(e.total / 10));
          if (e.done === 1 || e.done % every === 0 || e.done === e.total) out.write(`${text}\n`);
        }
        break;
      }
    }
  };
}
