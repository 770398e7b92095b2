import { describe, expect, it } from 'vitest';
import { OBJECT_AGNOSTIC, STATE_ENSEMBLE, TEMPLATE_ENSEMBLE, expandPrompts, fillSlot, learnablePromptText, promptEnsemble } from './templates';

describe('prompt templates', () => {
  it('writes AnomalyCLIP prompt strings', () => {
    expect(learnablePromptText(4, OBJECT_AGNOSTIC.states.normal[0]!, OBJECT_AGNOSTIC.className)).toBe('X X X X object.');
    expect(learnablePromptText(4, OBJECT_AGNOSTIC.states.anomaly[0]!, 'object')).toBe('X X X X damaged object.');
    expect(learnablePromptText(0, '{}', 'object')).toBe('object.');
  });

  it('expands every phrase in every template', () => {
    const e = promptEnsemble('bottle');
    expect(e.normal).toHaveLength(STATE_ENSEMBLE.normal.length * TEMPLATE_ENSEMBLE.length);
    expect(e.anomaly).toHaveLength(STATE_ENSEMBLE.anomaly.length * TEMPLATE_ENSEMBLE.length);
    expect(e.normal[0]).toBe('a bad photo of a bottle.');
    expect(e.anomaly).toContain('a photo of the bottle with defect.');
    expect(expandPrompts('x', ['{}', 'big {}'], ['a {}.', 'the {}!'])).toEqual(['a x.', 'the x!', 'a big x.', 'the big x!']);
    for (const t of TEMPLATE_ENSEMBLE) expect(t.split('{}')).toHaveLength(2);
  });

  it('rejects templates without exactly one slot', () => {
    expect(() => fillSlot('no slot', 'x')).toThrow(/exactly one \{\} slot, found 0/);
    expect(() => fillSlot('{} and {}', 'x')).toThrow(/found 2/);
    expect(() => expandPrompts('x', [])).toThrow(/no phrase/);
  });
});
