import type { HtmlUnescape } from './html-unescape';

/**
 * The characters Python's `str.isspace()` (and `re`'s `\s` on str patterns) treat as whitespace. JavaScript's
 * `\s` differs: it lacks U+001C..U+001F and U+0085 and adds U+FEFF.
 */
export const PYTHON_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const runs = new RegExp(`[${PYTHON_WHITESPACE}]+`, 'gu');
const edges = new RegExp(`^[${PYTHON_WHITESPACE}]+|[${PYTHON_WHITESPACE}]+$`, 'gu');

/** Python's `str.strip()` with no argument. */
export function pythonStrip(text: string): string {
  return text.replace(edges, '');
}

/**
 * CLIP's `basic_clean`: `ftfy.fix_text` (not applied, see below), HTML unescaped twice, stripped.
 *
 * ftfy is not reproduced: for NFC text without mojibake, curly quotes, full-width characters or
 * ligatures it is the identity, and so is this function; for such text (e.g. `it’s`) openai's ids differ.
 */
export function basicClean(text: string, unescape: HtmlUnescape): string {
  return pythonStrip(unescape(unescape(text)));
}

/** CLIP's `whitespace_clean`: every whitespace run becomes one space, then stripped. */
export function whitespaceClean(text: string): string {
  return pythonStrip(text.replace(runs, ' '));
}
