/**
 * Parity kind `losses`: AnomalyCLIP's focal and Dice losses on one similarity map, their lam-weighted sum,
 * torch's cross-entropy and BCE-with-logits, and torchvision's sigmoid focal loss, each value and each
 * gradient with respect to its input logits.
 *
 * Folder files: `inputs.safetensors` (seg_logits [B,2,H,W], gt [B,H,W], img_logits [n,C], img_labels [n],
 * bce_logits [m], bce_targets [m]), `expected.json` (`expected`: scalar losses, with `_f64` twins from a
 * float64 run; `references`: the reference calls, from which the hyper-parameters are read) and
 * `expected_grads.safetensors` (`grad_<loss>` and `grad_<loss>_f64`, plus the softmax `probs`). Every
 * value and every tensor is compared with the float32 result computed here; `_f64` entries are compared
 * with the same float32 result.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients } from '@hgm/tensor/node';
import type { HostTensor } from '@hgm/tensor';
import { hostToTensor } from '@hgm/tensor';
import type { Fixture } from '@hgm/tensor/testing';
import { mapLoss, crossEntropy, bceWithLogits, sigmoidFocalLoss, type MapLossConfigInput, type Reduction } from '@hgm/losses';
import { compareOutput, compareScalar, DEFAULT_TOLERANCE, type ParityRow } from '../compare';

const F64_SUFFIX = '_f64';

interface ExpectedDoc {
  expected: Record<string, unknown>;
  references: Record<string, string>;
}

/** Reads `name=<value>` out of a reference call's text, e.g. gamma=2 or reduction='mean'. */
function referenceParam(references: Record<string, string>, key: string, param: string): string {
  const text = references[key];
  if (typeof text !== 'string') throw new Error(`expected.json: references.${key} is missing; it names the parameters of ${key}`);
  const m = new RegExp(`\\b${param}\\s*=\\s*('([^']*)'|"([^"]*)"|[^,)\\s]+)`).exec(text);
  if (!m) throw new Error(`expected.json: references.${key} does not give ${param}= (found ${JSON.stringify(text)})`);
  return m[2] ?? m[3] ?? m[1]!;
}

function referenceNumber(references: Record<string, string>, key: string, param: string): number {
  const raw = referenceParam(references, key, param);
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`expected.json: references.${key}: ${param}=${raw} is not a number`);
  return v;
}

/** The factor k of `k * (focal + dice_pos + dice_neg)` in references.seg_total. */
function segTotalWeight(references: Record<string, string>): number {
  const text = references['seg_total'] ?? '';
  const m = /^\s*([0-9.]+)\s*\*\s*\(\s*focal\s*\+\s*dice_pos\s*\+\s*dice_neg\s*\)/.exec(text);
  if (!m) throw new Error(`expected.json: references.seg_total should read "k * (focal + dice_pos + dice_neg)", found ${JSON.stringify(text)}`);
  return Number(m[1]);
}

function input(inputs: Map<string, HostTensor>, name: string): HostTensor {
  const t = inputs.get(name);
  if (!t) throw new Error(`inputs.safetensors: tensor ${name} is missing (found ${[...inputs.keys()].join(', ')})`);
  return t;
}

/** A loss of one logits tensor, with the logits' name. */
interface LossDef {
  logits: string;
  fn: (logits: tf.Tensor) => tf.Scalar;
}

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  ensureGradients();
  const inputs = await fixture.tensors('inputs.safetensors');
  const doc = await fixture.json<ExpectedDoc>('expected.json');
  const expectedGrads = await fixture.tensors('expected_grads.safetensors');
  const refs = doc.references ?? {};
  const tol = DEFAULT_TOLERANCE;

  const mapConfig: MapLossConfigInput = {
    focal: { gamma: referenceNumber(refs, 'focal', 'gamma'), smooth: referenceNumber(refs, 'focal', 'smooth') },
    weight: segTotalWeight(refs),
  };
  if (referenceParam(refs, 'focal', 'alpha') !== 'None') throw new Error(`expected.json: references.focal: only alpha=None (all ones) is supported`);
  const sigmoidFocal = (key: string) => ({
    alpha: referenceNumber(refs, key, 'alpha'),
    gamma: referenceNumber(refs, key, 'gamma'),
    reduction: referenceParam(refs, key, 'reduction') as Reduction,
  });

  const owned: tf.Tensor[] = [];
  const own = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  try {
    const segLogits = own(hostToTensor(input(inputs, 'seg_logits')));
    const gt = own(hostToTensor(input(inputs, 'gt')));
    const imgLabels = own(hostToTensor(input(inputs, 'img_labels')));
    const bceTargets = own(hostToTensor(input(inputs, 'bce_targets')));
    const tensors: Record<string, tf.Tensor> = {
      seg_logits: segLogits,
      img_logits: own(hostToTensor(input(inputs, 'img_logits'))),
      bce_logits: own(hostToTensor(input(inputs, 'bce_logits'))),
    };
    // seg_logits is [B, 2, H, W] (torch layout); the map losses take channel-last probabilities.
    const probsOf = (logits: tf.Tensor) => tf.softmax(tf.transpose(logits, [0, 2, 3, 1]));
    const mapTerm = (term: 'focal' | 'anomalyDice' | 'normalDice' | 'total') => (logits: tf.Tensor) =>
      tf.tidy(() => mapLoss(probsOf(logits), gt, mapConfig)[term]);

    const losses: Record<string, LossDef> = {
      focal: { logits: 'seg_logits', fn: mapTerm('focal') },
      dice_pos: { logits: 'seg_logits', fn: mapTerm('anomalyDice') },
      dice_neg: { logits: 'seg_logits', fn: mapTerm('normalDice') },
      seg_total: { logits: 'seg_logits', fn: mapTerm('total') },
      cross_entropy: { logits: 'img_logits', fn: (x) => crossEntropy(x, imgLabels) as tf.Scalar },
      bce_with_logits: { logits: 'bce_logits', fn: (x) => bceWithLogits(x, bceTargets) as tf.Scalar },
    };
    for (const key of Object.keys(doc.expected ?? {})) {
      if (key.startsWith('sigmoid_focal_') && !key.endsWith(F64_SUFFIX)) {
        const cfg = sigmoidFocal(key);
        losses[key] = { logits: 'bce_logits', fn: (x) => sigmoidFocalLoss(x, bceTargets, cfg) as tf.Scalar };
      }
    }

    const values = new Map<string, number>();
    const grads = new Map<string, tf.Tensor>();
    for (const [name, def] of Object.entries(losses)) {
      const x = tensors[def.logits]!;
      const value = def.fn(x);
      values.set(name, (await value.data())[0]!);
      value.dispose();
      grads.set(name, own(tf.grad(def.fn)(x)));
    }
    const probs = own(tf.tidy(() => tf.transpose(probsOf(segLogits), [0, 3, 1, 2])));

    const rows: ParityRow[] = [];
    for (const [key, expected] of Object.entries(doc.expected ?? {})) {
      const base = key.endsWith(F64_SUFFIX) ? key.slice(0, -F64_SUFFIX.length) : key;
      if (typeof expected !== 'number') {
        rows.push({ name: key, shape: [], maxAbsError: NaN, maxRelError: NaN, ok: false, note: `expected value ${JSON.stringify(expected)} is not a number` });
        continue;
      }
      rows.push(compareScalar(key, values.get(base), expected, tol));
    }
    for (const [name, expected] of expectedGrads) {
      const base = name.endsWith(F64_SUFFIX) ? name.slice(0, -F64_SUFFIX.length) : name;
      const actual = base === 'probs' ? probs : base.startsWith('grad_') ? grads.get(base.slice('grad_'.length)) : undefined;
      rows.push(await compareOutput(name, actual, expected, tol));
    }
    return rows;
  } finally {
    for (const t of owned) t.dispose();
  }
}
