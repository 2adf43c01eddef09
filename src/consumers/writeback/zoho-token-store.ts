import { z } from 'zod';
import type { RedisClient } from '../../streams/redis.js';
import type { RedisKeys } from '../../streams/keys.js';
import type { SecretBox } from '../../tenants/secret-box.js';
import type { CachedAccessToken, SharedTokenStore } from './zoho-oauth.js';

const storedToken = z.object({ value: z.string().min(1), renewAt: z.number(), credentials: z.string().min(1) });

/**
 * Access tokens in Redis, sealed like every other tenant secret, expiring when the token should
 * be renewed. Redis trouble only costs a token request: a read that fails is a miss, a write that
 * fails is skipped.
 */
export function redisTokenStore(
  redis: RedisClient,
  keys: RedisKeys,
  box: SecretBox,
  clock: () => number = Date.now,
): SharedTokenStore {
  const context = (tenant: string) => `${tenant}:zohoAccessToken`;
  return {
    async read(tenant: string): Promise<CachedAccessToken | undefined> {
      try {
        const stored = await redis.get(keys.zohoAccessToken(tenant));
        if (!stored) return undefined;
        const parsed = storedToken.safeParse(JSON.parse(box.open(stored, context(tenant))));
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined;
      }
    },
    async write(tenant: string, token: CachedAccessToken): Promise<void> {
      const ttlMs = Math.floor(token.renewAt - clock());
      if (ttlMs <= 0) return;
      await redis
        .set(keys.zohoAccessToken(tenant), box.seal(JSON.stringify(token), context(tenant)), 'PX', ttlMs)
        .catch(() => undefined);
    },
  };
}
