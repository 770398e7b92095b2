/**
 * Prompt templates as data. Nothing here touches tensors: a prompt set is a list of strings per state,
 * built from a class name, state phrases and sentence templates.
 */
import { ConfigError } from '@hgm/tensor';

/** A state (normal or anomalous) described by phrases with a `{}` slot for the class name. */
export interface StatePhrases {
  normal: readonly string[];
  anomaly: readonly string[];
}

/**
 * AnomalyCLIP's object-agnostic prompt text: the class word is "object" and the only state words are
 * none (normal) and "damaged" (anomaly). Learnable context tokens go in front of these words.
 */
export const OBJECT_AGNOSTIC = {
  className: 'object',
  states: { normal: ['{}'], anomaly: ['damaged {}'] } as StatePhrases,
} as const;

/**
 * State phrases of the compositional prompt ensemble used by text-only zero-shot baselines (WinCLIP's
 * state-level prompts).
 */
export const STATE_ENSEMBLE: StatePhrases = {
  normal: ['{}', 'flawless {}', 'perfect {}', 'unblemished {}', '{} without flaw', '{} without defect', '{} without damage'],
  anomaly: ['damaged {}', 'broken {}', '{} with flaw', '{} with defect', '{} with damage'],
};

/** Sentence templates of the same ensemble; `{}` receives a state phrase. */
export const TEMPLATE_ENSEMBLE: readonly string[] = [
  'a bad photo of a {}.',
  'a low resolution photo of the {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a bright photo of a {}.',
  'a dark photo of the {}.',
  'a photo of my {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a photo of one {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'a low resolution photo of a {}.',
  'a photo of a large {}.',
  'a blurry photo of a {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a photo of the small {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'a dark photo of a {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'there is a {} in the scene.',
  'there is the {} in the scene.',
  'this is a {} in the scene.',
  'this is the {} in the scene.',
  'this is one {} in the scene.',
];

/**
 * Replaces the single `{}` slot of a template.
 * @throws when the template has no slot or more than one
 */
export function fillSlot(template: string, value: string): string {
  const parts = template.split('{}');
  if (parts.length !== 2) throw new ConfigError(`prompt template ${JSON.stringify(template)}: expected exactly one {} slot, found ${parts.length - 1}`);
  return parts[0] + value + parts[1];
}

/** The prompts of one state: every state phrase (filled with the class name) inside every template. */
export function expandPrompts(className: string, phrases: readonly string[], templates: readonly string[] = ['{}']): string[] {
  if (phrases.length === 0) throw new ConfigError('expandPrompts: the state has no phrase');
  if (templates.length === 0) throw new ConfigError('expandPrompts: no template given');
  const out: string[] = [];
  for (const phrase of phrases) {
    const stated = fillSlot(phrase, className);
    for (const t of templates) out.push(fillSlot(t, stated));
  }
  return out;
}

/** Both states' prompt lists for a class name (normal first). */
export function promptEnsemble(
  className: string,
  states: StatePhrases = STATE_ENSEMBLE,
  templates: readonly string[] = TEMPLATE_ENSEMBLE,
): { normal: string[]; anomaly: string[] } {
  return { normal: expandPrompts(className, states.normal, templates), anomaly: expandPrompts(className, states.anomaly, templates) };
}

/**
 * The text of a learnable prompt before splicing: `placeholders` copies of "X" (one token each; the
 * embeddings at their positions are replaced by learnable vectors) followed by the state phrase filled with
 * the class name and a full stop, as AnomalyCLIP writes it: `learnablePromptText(4, 'damaged {}', 'object')`
 * is `"X X X X damaged object."`.
 */
export function learnablePromptText(placeholders: number, phrase: string, className: string): string {
  if (!Number.isInteger(placeholders) || placeholders < 0)
    throw new ConfigError(`learnablePromptText: placeholders must be a non-negative integer, got ${placeholders}`);
  const words = fillSlot(phrase, className) + '.';
  return placeholders === 0 ? words : `${Array.from({ length: placeholders }, () => 'X').join(' ')} ${words}`;
}
