// AnomalyCLIP / torch / torchvision golden values and gradients (fixtures/losses, see
// fixtures/metrics-losses-tokenizer.md), on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { expect } from 'vitest';
import { hostToTensor, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, findFixtures, repoFixturesDir, type Fixture } from '@hgm/tensor/testing';
import { mapLoss, type MapLossTerms } from './map-loss';
import { crossEntropy } from './cross-entropy';
import { bceWithLogits } from './bce-with-logits';
import { sigmoidFocalLoss } from './sigmoid-focal-loss';
import { ensureGradients } from './test-support';

ensureGradients();

const TOL = { atol: 1e-4, rtol: 1e-4 };
/** AnomalyCLIP's train.py: FocalLoss() defaults, and the four maps recorded as 4 x one map (lam = 4). */
const ANOMALYCLIP_MAP = { focal: { gamma: 2, smooth: 1e-5 }, weight: 4 };

interface Case {
  fixture: Fixture;
  inputs: Map<string, HostTensor>;
  expected: Record<string, number>;
  grads: Map<string, HostTensor>;
}

async function loadCases(): Promise<Case[]> {
  const fixtures = await findFixtures(join(repoFixturesDir(), 'losses'));
  return Promise.all(
    fixtures.map(async (fixture) => ({
      fixture,
      inputs: await fixture.tensors('inputs.safetensors'),
      expected: (await fixture.json<{ expected: Record<string, number> }>('expected.json')).expected,
      grads: await fixture.tensors('expected_grads.safetensors'),
    })),
  );
}

const casesPromise = loadCases();

/** The losses of one case, each a function of its logits, by fixture key. */
function lossFunctions(c: Case): Record<string, { logits: string; fn: (x: tf.Tensor) => tf.Scalar }> {
  const t = (name: string) => hostToTensor(c.inputs.get(name)!);
  const gt = t('gt');
  const labels = t('img_labels');
  const targets = t('bce_targets');
  const term = (k: keyof MapLossTerms) => (x: tf.Tensor) => tf.tidy(() => mapLoss(tf.softmax(tf.transpose(x, [0, 2, 3, 1])), gt, ANOMALYCLIP_MAP)[k]);
  return {
    focal: { logits: 'seg_logits', fn: term('focal') },
    dice_pos: { logits: 'seg_logits', fn: term('anomalyDice') },
    dice_neg: { logits: 'seg_logits', fn: term('normalDice') },
    seg_total: { logits: 'seg_logits', fn: term('total') },
    cross_entropy: { logits: 'img_logits', fn: (x) => crossEntropy(x, labels) as tf.Scalar },
    bce_with_logits: { logits: 'bce_logits', fn: (x) => bceWithLogits(x, targets) as tf.Scalar },
    sigmoid_focal_mean: { logits: 'bce_logits', fn: (x) => sigmoidFocalLoss(x, targets, { alpha: 0.25, gamma: 2, reduction: 'mean' }) as tf.Scalar },
    sigmoid_focal_sum: { logits: 'bce_logits', fn: (x) => sigmoidFocalLoss(x, targets, { alpha: 0.25, gamma: 2, reduction: 'sum' }) as tf.Scalar },
  };
}

describeBackends(
  'losses golden fixtures',
  ({ it }) => {
    it('has the three cases', async () => {
      const cases = await casesPromise;
      expect(cases.map((c) => c.fixture.folder.split('/').pop())).toEqual(['case-0', 'case-1', 'case-2']);
    });

    it('every value matches the float32 and float64 references', async () => {
      for (const c of await casesPromise) {
        const fns = lossFunctions(c);
        const keys = Object.keys(c.expected);
        expect(keys.filter((k) => !(k.replace(/_f64$/, '') in fns))).toEqual([]);
        for (const key of keys) {
          const { logits, fn } = fns[key.replace(/_f64$/, '')]!;
          const x = hostToTensor(c.inputs.get(logits)!);
          const value = fn(x);
          await expectClose(value, [c.expected[key]!], { ...TOL, name: `${c.fixture.folder} ${key}` });
          tf.dispose([x, value]);
        }
      }
    });

    it('every gradient matches autograd (float32 and float64)', async () => {
      for (const c of await casesPromise) {
        const fns = lossFunctions(c);
        let compared = 0;
        for (const [name, expected] of c.grads) {
          const base = name.replace(/_f64$/, '');
          if (base === 'probs') continue;
          const { logits, fn } = fns[base.replace(/^grad_/, '')]!;
          const x = hostToTensor(c.inputs.get(logits)!);
          const g = tf.grad(fn)(x);
          await expectClose(g, expected, { ...TOL, name: `${c.fixture.folder} ${name}` });
          tf.dispose([x, g]);
          compared++;
        }
        expect(compared).toBe(16);
      }
    });
  },
  { backends: ['cpu', 'wasm'] },
);
