import type { Logger } from 'pino';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * Entries a group reads but does not handle (other groups' types, redrives for another group) wait
 * here to be acknowledged with the runner's next read, in its round trip (see `GroupReader.read`).
 * When the runner is about to wait or stop, or on Redis Cluster (reads per slot), they are
 * acknowledged at once. An acknowledgement that fails leaves them pending: they are taken over
 * after the claim timeout, and skipped again.
 */
export class SkippedEntries {
  private waiting = new Map<string, string[]>();

  constructor(
    private readonly member: Readonly<{ redis: RedisClient; keys: RedisKeys; group: string }>,
    private readonly log: Logger,
    /** False on Redis Cluster: acknowledge at once. */
    private readonly withReads: boolean,
    private readonly track: (task: Promise<void>) => void,
  ) {}

  add(stream: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    if (!this.withReads) return this.track(this.acknowledge(stream, [...ids]));
    const waiting = this.waiting.get(stream);
    if (waiting) waiting.push(...ids);
    else this.waiting.set(stream, [...ids]);
  }

  /** The entries to acknowledge with the next read, by stream; they are no longer held here. */
  take(): ReadonlyMap<string, readonly string[]> {
    const taken = this.waiting;
    this.waiting = new Map();
    return taken;
  }

  /** Acknowledges what waits now, without a read. */
  flush(): void {
    for (const [stream, ids] of this.take()) this.track(this.acknowledge(stream, ids));
  }

  failed(stream: string, count: number, error: unknown): void {
    const { group, keys } = this.member;
    this.log.warn({ err: error, group, tenant: keys.tenantOf(stream), count }, 'acknowledging skipped entries failed');
  }

  private async acknowledge(stream: string, ids: readonly string[]): Promise<void> {
    try {
      await this.member.redis.xack(stream, this.member.group, ...ids);
    } catch (error) {
      this.failed(stream, ids.length, error);
    }
  }
}
