// C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides: all can rewrite
// or hide what a terminal shows.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escapeChar = (char: string) => {
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** Text from a tenant or a request, made safe to print: control characters become visible escapes. */
export function printable(text: string): string {
  return text.replace(unsafe, escapeChar);
}

// JSON.stringify escapes C0 controls in strings itself (raw line breaks are its indentation).
const unsafeInJson = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON for a terminal: JSON.stringify leaves DEL, C1 controls and bidi overrides raw, so they are escaped too. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    unsafeInJson,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
