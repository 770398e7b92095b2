import { LEGACY_NAMES, NAMED_REFERENCES, NUMERIC_DROPPED, NUMERIC_REPLACEMENTS } from './html-entities';

/** Replaces HTML character references in a string. */
export type HtmlUnescape = (text: string) => string;

/**
 * Builds an HTML unescaper with the behaviour of Python's `html.unescape` (which CLIP's `basic_clean`
 * applies twice): every WHATWG named reference, legacy names without `;` and the longest known prefix of
 * an unknown name (`&ampx` → `&x`), decimal and hex numeric references with the standard's replacements
 * (C1 controls as Windows-1252, surrogates and out-of-range values as U+FFFD, non-characters dropped).
 */
export function createHtmlUnescape(): HtmlUnescape {
  const named = new Map<string, string>();
  for (const entry of NAMED_REFERENCES.split(',')) {
    const colon = entry.indexOf(':');
    const value = String.fromCodePoint(
      ...entry
        .slice(colon + 1)
        .split('.')
        .map((h) => parseInt(h, 16)),
    );
    named.set(`${entry.slice(0, colon)};`, value);
  }
  for (const name of LEGACY_NAMES.split(' ')) named.set(name, named.get(`${name};`)!);
  const reference = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

  const numeric = (body: string): string => {
    const hex = body[1] === 'x' || body[1] === 'X';
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
    const num = hex ? parseInt(digits, 16) : parseInt(digits, 10);
    const replaced = NUMERIC_REPLACEMENTS[num];
    if (replaced !== undefined) return String.fromCodePoint(replaced);
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff || !Number.isFinite(num)) return '\ufffd';
    if (NUMERIC_DROPPED.some(([a, b]) => num >= a && num <= b)) return '';
    return String.fromCodePoint(num);
  };

  const namedRef = (body: string): string => {
    const hit = named.get(body);
    if (hit !== undefined) return hit;
    for (let n = body.length - 1; n > 1; n--) {
      const prefix = named.get(body.slice(0, n));
      if (prefix !== undefined) return prefix + body.slice(n);
    }
    return `&${body}`;
  };

  return (text: string) => {
    if (!text.includes('&')) return text;
    return text.replace(reference, (_m, body: string) => (body[0] === '#' ? numeric(body) : namedRef(body)));
  };
}
