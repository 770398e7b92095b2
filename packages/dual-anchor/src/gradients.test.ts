import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { Rng } from '@hgm/tensor';
import { describeBackends } from '@hgm/tensor/testing';
import { moduleOf } from './dual-anchor-model';
import { disposeVisionFeatures } from './vision-features';
import { syntheticBatch, tinyModel } from './test-support';

/**
 * Directional finite differences of the training loss for every group of learnable parameters. The hard
 * (straight-through) assignment is not a derivative of anything, so the check runs HGM with the soft
 * assignment and no Gumbel noise; everything else is the tiny model's training loss.
 */
describeBackends(
  'gradients of the training loss',
  ({ it }) => {
    it('match central finite differences for every learnable parameter group', async () => {
      const model = await tinyModel({ hgm: { hard: false, gumbel: false } });
      // one anomalous image: every term of the loss is present, at half the cost of a pair
      const pair = syntheticBatch(2, 32, 11);
      const second = <T extends tf.Tensor>(t: T): T => tf.tidy(() => tf.slice(t, [1], [1]) as T);
      const [pixels, masks, labels] = [second(pair.pixels), second(pair.masks), second(pair.labels)];
      tf.dispose([pair.pixels, pair.masks, pair.labels]);
      const features = model.encodeVisionSync(pixels);
      const batch = { features, masks, labels };
      // The refiner only reaches the image term, whose gradient is small next to the map terms' float32
      // noise: its groups are checked on that term alone.
      type Term = 'total' | 'image';
      const lossValue = (term: Term) =>
        tf.tidy(() => (term === 'total' ? model.trainingLoss(batch).total : model.trainingLoss(batch).terms.image).dataSync()[0]!);
      const gradsOf = (term: Term, vars: tf.Variable[]) => {
        const r = tf.variableGrads(() => {
          const l = model.trainingLoss(batch);
          return term === 'total' ? l.total : l.terms.image;
        }, vars);
        r.value.dispose();
        return r.grads;
      };
      const grads = {
        ...gradsOf(
          'total',
          model.trainableVariables().filter((v) => !model.params.entries().some((p) => p.variable === v && p.name.startsWith('refiner.'))),
        ),
      };
      const imageGrads = gradsOf(
        'image',
        model.params
          .entries()
          .filter((p) => p.name.startsWith('refiner.'))
          .map((p) => p.variable),
      );
      const groups = new Map<string, tf.Variable[]>();
      for (const p of model.params.entries()) {
        const name = p.name.startsWith('hgm.levels.')
          ? `hgm.levels.${p.name.split('.')[2]}`
          : p.name.startsWith('dsp.') || p.name.startsWith('refiner.')
            ? p.name.replace(/\.(weight|bias)$/, '').replace(/\.\d+$/, '')
            : moduleOf(p.name);
        groups.set(name, [...(groups.get(name) ?? []), p.variable]);
      }
      expect([...groups.keys()].sort()).toEqual(
        [
          'adapters',
          'dsp.compound_prompts_text',
          'dsp.ctx_anomaly',
          'dsp.ctx_normal',
          'dsp.group_projection',
          'dsp.state_anomaly',
          'dsp.state_normal',
          'hgm',
          'hgm.levels.0',
          'hgm.levels.1',
          'hgm.levels.2',
          'refiner.gate',
          'refiner.norm',
        ].sort(),
      );
      const rng = new Rng(21);
      const report: string[] = [];
      for (const [name, vars] of groups) {
        const term: Term = name.startsWith('refiner.') ? 'image' : 'total';
        const h = term === 'image' ? 1e-1 : 1e-3;
        const g = vars.map((v) => (term === 'image' ? imageGrads : grads)[v.name]!);
        // Direction: the normalised sum of the gradient's direction and a random one.
        const dir = tf.tidy(() => {
          const gn = Math.sqrt(g.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0]!, 0)) || 1;
          const r = g.map((t) => rng.tensorNormal([...t.shape]));
          const rn = Math.sqrt(r.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0]!, 0));
          const d = g.map((t, i) => tf.add(tf.div(t, gn), tf.div(r[i]!, rn)));
          const dn = Math.sqrt(d.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0]!, 0));
          return d.map((t) => tf.div(t, dn));
        });
        const analytic = tf.tidy(() => g.reduce((s, t, i) => s + tf.sum(tf.mul(t, dir[i]!)).dataSync()[0]!, 0));
        const original = vars.map((v) => tf.clone(v));
        const shift = (sign: number) => vars.forEach((v, i) => v.assign(tf.tidy(() => tf.add(original[i]!, tf.mul(dir[i]!, sign * h)))));
        shift(1);
        const plus = lossValue(term);
        shift(-1);
        const minus = lossValue(term);
        vars.forEach((v, i) => v.assign(original[i]!));
        tf.dispose([...original, ...dir]);
        const numeric = (plus - minus) / (2 * h);
        report.push(`${name} (${term}): analytic ${analytic.toExponential(4)}, numeric ${numeric.toExponential(4)}`);
        expect(Math.abs(analytic), `${name} has no gradient`).toBeGreaterThan(1e-5);
        const tol = term === 'image' ? 2e-6 + 5e-2 * Math.abs(analytic) : 2e-3 + 2e-2 * Math.abs(analytic);
        expect(Math.abs(numeric - analytic), report.join('\n')).toBeLessThan(tol);
      }
      if (process.env.HGM_VERBOSE) console.log(report.join('\n'));
      tf.dispose([...Object.values(grads), ...Object.values(imageGrads)]);
      disposeVisionFeatures(features);
      tf.dispose([pixels, masks, labels]);
      model.dispose();
    }, 120_000);
  },
  { backends: ['cpu', 'wasm'] },
);
