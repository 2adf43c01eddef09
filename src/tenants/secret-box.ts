import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { StreamdeskError } from '../errors.js';

type Key = { id: string; bytes: Buffer };

function parseKey(text: string): Key {
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (bytes.length !== 32) throw new Error('An encryption key must be 32 bytes');
  // The id names the key without revealing it, so a stored value says which key opens it.
  return { id: createHash('sha256').update('streamdesk-secrets-key:').update(bytes).digest('hex').slice(0, 12), bytes };
}

const encryptedPattern = /^enc:v1:([0-9a-f]{12}):([A-Za-z0-9_-]+):([A-Za-z0-9_-]+):([A-Za-z0-9_-]*)$/;
const plainPrefix = 'plain:';

/**
 * Seals tenant secrets for storage: `enc:v1:<key id>:<iv>:<tag>:<ciphertext>` with AES-256-GCM, the
 * tenant id and field name bound as associated data (a value cannot be moved to another tenant or
 * field). Without a key, values are stored as `plain:<value>`; values from before encryption existed
 * carry no prefix and read as plain text.
 */
export class SecretBox {
  private readonly current: Key | undefined;
  private readonly keys: Map<string, Key>;

  constructor(currentKey: string | undefined, previousKeys: readonly string[] = []) {
    this.current = currentKey ? parseKey(currentKey) : undefined;
    this.keys = new Map(
      [...previousKeys.map(parseKey), ...(this.current ? [this.current] : [])].map((key) => [key.id, key]),
    );
  }

  get encrypting(): boolean {
    return this.current !== undefined;
  }

  get keyId(): string | undefined {
    return this.current?.id;
  }

  seal(value: string, context: string): string {
    if (!this.current) return `${plainPrefix}${value}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.bytes, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `enc:v1:${this.current.id}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ciphertext.toString('base64url')}`;
  }

  open(stored: string, context: string): string {
    if (stored.startsWith(plainPrefix)) return stored.slice(plainPrefix.length);
    const match = encryptedPattern.exec(stored);
    if (!stored.startsWith('enc:')) return stored;
    if (!match) throw new StreamdeskError('ENCRYPTION_KEY_UNKNOWN', 'A stored secret is not in a readable format');
    const [, keyId = '', iv = '', tag = '', ciphertext = ''] = match;
    const key = this.keys.get(keyId);
    if (!key) {
      throw new StreamdeskError(
        'ENCRYPTION_KEY_UNKNOWN',
        `A stored secret is encrypted with key ${keyId}, which is neither SECRETS_ENCRYPTION_KEY nor in SECRETS_ENCRYPTION_PREVIOUS_KEYS`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new StreamdeskError(
        'ENCRYPTION_KEY_UNKNOWN',
        `A stored secret encrypted with key ${keyId} does not decrypt (altered, or moved from another tenant)`,
        undefined,
        { cause: error, retryable: false },
      );
    }
  }

  /** The key id a stored value was sealed with ('plain' when it is not encrypted). */
  static keyIdOf(stored: string): string {
    return encryptedPattern.exec(stored)?.[1] ?? 'plain';
  }
}
