/**
 * One hop of the engine phase's chain in a process of its own (the "one process per hop" layout).
 * The parent sends a HopJob over IPC; the child connects, answers 'ready', starts on 'go' and
 * stops on 'stop'. Engine hops run a StreamRunner with the hop's no-op stage; raw hops run the
 * raw ceiling's loop.
 */
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { stageProcessor } from '../../src/consumers/stage.js';
import { redisKeys } from '../../src/streams/keys.js';
import { createRedis } from '../../src/streams/redis.js';
import { StreamRunner } from '../../src/streams/runner.js';
import { hops, noopStage, rawHop } from './chain.js';

export type HopJob =
  | { kind: 'engine'; redisUrl: string; prefix: string; hop: number; blockMs: number; batchSize: number }
  | { kind: 'raw'; redisUrl: string; from: string; to: string; rawCount: number; blockMs: number };

async function prepare(job: HopJob): Promise<{ go(): void; stop(): Promise<void> }> {
  const config = loadConfig({
    REDIS_URL: job.redisUrl,
    REDIS_PREFIX: job.kind === 'engine' ? job.prefix : 'bench',
    LOG_LEVEL: 'silent',
  });
  const logger = pino({ level: 'silent' });
  if (job.kind === 'engine') {
    const redis = createRedis(config, 'commands');
    const blocking = createRedis(config, 'blocking');
    const hop = hops[job.hop];
    if (!hop) throw new Error(`no hop ${job.hop}`);
    const runner = new StreamRunner({
      redis,
      blockingRedis: blocking,
      keys: redisKeys(job.prefix),
      processor: stageProcessor(noopStage(hop), logger),
      retry: config.retry,
      emittedTtlSeconds: config.idempotencyTtlSeconds,
      logger,
      blockMs: job.blockMs,
      batchSize: job.batchSize,
    });
    await redis.ping();
    return {
      go: () => void runner.start(),
      async stop() {
        await runner.stop(5_000);
        redis.disconnect();
        blocking.disconnect();
      },
    };
  }
  const connection = createRedis(config, 'blocking');
  await connection.ping();
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  return {
    go: () => {
      loop = rawHop(connection, job.from, job.to, job, () => running);
    },
    async stop() {
      running = false;
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, job.blockMs + 500))]);
      connection.disconnect();
    },
  };
}

process.once('message', (job: HopJob) => {
  prepare(job).then(
    (hop) => {
      process.on('message', (message: unknown) => {
        if (message === 'go') hop.go();
        if (message === 'stop') void hop.stop().finally(() => process.exit(0));
      });
      process.send?.('ready');
    },
    (error: unknown) => {
      process.stderr.write(`hop child: ${String((error as Error).stack ?? error)}\n`);
      process.exit(1);
    },
  );
});
