import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv';

describe('parseCsv', () => {
  it('handles quotes, escaped quotes, CRLF and blank lines, with line numbers', () => {
    const text = 'a,b,c\r\n"x,1","say ""hi""",\n\n"multi\nline",2,3\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['x,1', 'say "hi"', ''] },
      { line: 4, fields: ['multi\nline', '2', '3'] },
    ]);
  });
  it('keeps a last row without a newline', () => {
    expect(parseCsv('a,b\n1,2')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });
});
