import { describe, expect, it } from 'vitest';
import { assertStorable, assertStorableJson } from '../../src/storable.js';

const verdict = (check: () => void) => {
  try {
    check();
    return 'storable';
  } catch (error) {
    return (error as Error).message;
  }
};

describe('assertStorableJson', () => {
  const texts = [
    '{"a":"plain","b":["x",{"c":"d"}]}',
    '{"a":"tab\\there \\"quoted\\" back\\\\slash"}',
    '{"a":"nul \\u0000 here"}',
    '{"a":"\\u00e9 is fine"}',
    '{"a":"lone \\ud800 high"}',
    '{"a":"lone \\uDC00 low"}',
    '{"a":"pair \\ud83d\\ude00 is fine"}',
    '{"k\\u0000ey":"value"}',
    '{"a":"escaped backslash then u: \\\\u0000"}',
    `{"a":"raw lone ${'\uD800'} surrogate"}`,
    '{"a":"raw pair 😀"}',
  ];

  it.each(texts)('gives the verdict of the full walk for %s', (text) => {
    const value: unknown = JSON.parse(text);
    expect(verdict(() => assertStorableJson(text, value, 'body'))).toBe(verdict(() => assertStorable(value, 'body')));
  });

  it('refuses a NUL or a lone surrogate that arrives escaped, naming the field', () => {
    const text = '{"ticket":{"subject":"a\\u0000b"}}';
    expect(() => assertStorableJson(text, JSON.parse(text), 'body')).toThrow(/body\.ticket\.subject: contains a NUL/);
  });
});
