import { z } from 'zod';
import { defaultPrices, modelPriceSchema, type PriceTable } from './prices.js';

const intInRange = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, `expected an integer between ${min} and ${max}`)
        .max(max, `expected an integer between ${min} and ${max}`),
    );

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

const boolean = z
  .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1');

// 32 bytes, as 64 hex digits or base64: the AES-256-GCM key that encrypts tenant secrets at rest.
const encryptionKey = z
  .string()
  .trim()
  .refine(
    (value) =>
      /^[0-9a-fA-F]{64}$/.test(value) ||
      (/^[A-Za-z0-9+/_-]{43}=?$/.test(value) && Buffer.from(value, 'base64').length === 32),
    'expected 32 bytes as 64 hex digits or base64',
  );
const priceTableShape = z.record(z.string().min(1), modelPriceSchema);
const priceTable = z.string().transform((value, ctx): PriceTable => {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = undefined;
  }
  const parsed = priceTableShape.safeParse(json);
  if (parsed.success) return parsed.data;
  const where = parsed.error.issues[0]?.path.join('.');
  ctx.addIssue({
    code: 'custom',
    message: `expected JSON {"<model>": {"input": <USD per 1M tokens>, "output": <USD per 1M tokens>}, …}${where ? ` (wrong at ${where})` : ''}`,
  });
  return z.NEVER;
});

const envSchema = z.object({
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z
    .string()
    .trim()
    .regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'expected a comma-separated list of host:port')
    .optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1 to 64 letters, digits, "_", "." or "-"')
    .default('sd'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/streamdesk'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('public'),
  PORT: intInRange(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  ADMIN_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_TIMEOUT_MS: intInRange(100, 600_000).default(30_000),
  LLM_REQUESTS_PER_MINUTE: intInRange(0, 100_000_000).default(500),
  LLM_TOKENS_PER_MINUTE: intInRange(0, 1_000_000_000).default(200_000),
  LLM_MAX_CONCURRENCY: intInRange(1, 10_000).default(32),
  LLM_BREAKER_FAILURES: intInRange(1, 1_000).default(5),
  LLM_BREAKER_OPEN_MS: intInRange(100, 3_600_000).default(30_000),
  LLM_PRICES: priceTable.optional(),
  BUDGET_RECHECK_MS: intInRange(100, 86_400_000).default(60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: intInRange(0, 600_000).default(10_000),
  CLAIM_IDLE_MS: intInRange(100, 3_600_000).default(30_000),
  MAX_ATTEMPTS: intInRange(1, 100).default(3),
  RETRY_BASE_MS: intInRange(1, 3_600_000).default(1_000),
  RETRY_MAX_MS: intInRange(1, 3_600_000).default(60_000),
  TENANT_BACKLOG_LIMIT: intInRange(1, 100_000_000).default(100_000),
  PRIORITY_LANE_PERCENT: intInRange(1, 99).default(80),
  WEBHOOK_TOLERANCE_SECONDS: intInRange(1, 86_400).default(300),
  IDEMPOTENCY_TTL_SECONDS: intInRange(60, 31_536_000).default(7 * 86_400),
  METRICS_TENANT_LABEL: boolean.default(true),
  // Replay reads the archive; the stream need only hold what is not archived yet (the trim's floor) and a margin.
  STREAM_RETENTION_MS: intInRange(0, 10 * 365 * 86_400_000).default(3_600_000),
  STREAM_MAX_LENGTH: intInRange(1, 1_000_000_000).default(1_000_000),
  TRIM_INTERVAL_MS: intInRange(1_000, 86_400_000).default(60_000),
  SECRETS_ENCRYPTION_KEY: encryptionKey.optional(),
  SECRETS_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .trim()
    .transform((value) =>
      value
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key.length > 0),
    )
    .pipe(z.array(encryptionKey))
    .optional(),
  HTTP_REQUEST_TIMEOUT_MS: intInRange(100, 600_000).default(30_000),
  HTTP_HEADERS_TIMEOUT_MS: intInRange(100, 600_000).default(10_000),
  HTTP_IDLE_TIMEOUT_MS: intInRange(100, 600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: intInRange(100, 600_000).default(5_000),
  HTTP_MAX_CONNECTIONS: intInRange(1, 1_000_000).default(2_048),
  WRITEBACK_ALLOW_PRIVATE: boolean.default(false),
  JAEGER_UI_URL: url(['http:', 'https:']).optional(),
});

export type Config = Readonly<{
  redisUrl: string;
  redisClusterNodes: readonly { host: string; port: number }[] | undefined;
  redisPrefix: string;
  databaseUrl: string;
  databaseSchema: string;
  port: number;
  host: string;
  adminToken: string | undefined;
  openai: Readonly<{ apiKey: string | undefined; baseUrl: string | undefined; model: string; timeoutMs: number }>;
  /** The shared ceiling towards the LLM provider (0: none) and its circuit breaker. */
  llmLimits: Readonly<{
    requestsPerMinute: number;
    tokensPerMinute: number;
    maxConcurrency: number;
    breakerFailures: number;
    breakerOpenMs: number;
  }>;
  /** USD per million tokens, per model: the defaults with LLM_PRICES over them. */
  llmPrices: PriceTable;
  /** How often a ticket waiting for its tenant's budget checks again. */
  budgetRecheckMs: number;
  logLevel: Env['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  retry: Readonly<{ maxAttempts: number; baseMs: number; maxMs: number; claimIdleMs: number }>;
  tenantBacklogLimit: number;
  /** Share (0..1) of each read of a tenant that its priority lane may take; the normal lane gets the rest. */
  priorityLaneShare: number;
  webhookToleranceSeconds: number;
  idempotencyTtlSeconds: number;
  metricsTenantLabel: boolean;
  retention: Readonly<{ maxAgeMs: number; maxLength: number; intervalMs: number }>;
  /** Absent: tenant secrets are stored unencrypted (a warning is logged at start-up). */
  secretsKey: string | undefined;
  /** Earlier keys, for reading values written before a key rotation. */
  secretsPreviousKeys: readonly string[];
  http: Readonly<{
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    idleTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
  }>;
  /** Write-back targets on loopback, private or link-local addresses are refused unless this is set. */
  writebackAllowPrivate: boolean;
  /** Where the console links a ticket's trace: `<url>/trace/<trace id>`. */
  jaegerUiUrl: string | undefined;
}>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = z.infer<typeof envSchema>;

/** The environment's non-empty values, validated; ConfigError names every problem (secrets' values withheld). */
function parseEnv(env: NodeJS.ProcessEnv): Env {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    const got =
      typeof present[name] === 'string' && !/KEY|TOKEN|SECRET|PASSWORD/.test(name) ? ` (got "${present[name]}")` : '';
    return `${name}: ${issue.message}${got}`;
  });
  throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}

function connectionConfig(e: Env) {
  return {
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES?.split(',').map((node) => {
      const [host = '', port = '6379'] = node.split(':');
      return { host, port: Number(port) };
    }),
    redisPrefix: e.REDIS_PREFIX,
    databaseUrl: e.DATABASE_URL,
    databaseSchema: e.DATABASE_SCHEMA,
    port: e.PORT,
    host: e.HOST,
    adminToken: e.ADMIN_TOKEN,
  };
}

function llmConfig(e: Env) {
  return {
    openai: Object.freeze({
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
    }),
    llmLimits: Object.freeze({
      requestsPerMinute: e.LLM_REQUESTS_PER_MINUTE,
      tokensPerMinute: e.LLM_TOKENS_PER_MINUTE,
      maxConcurrency: e.LLM_MAX_CONCURRENCY,
      breakerFailures: e.LLM_BREAKER_FAILURES,
      breakerOpenMs: e.LLM_BREAKER_OPEN_MS,
    }),
    llmPrices: Object.freeze({ ...defaultPrices, ...e.LLM_PRICES }),
    budgetRecheckMs: e.BUDGET_RECHECK_MS,
  };
}

function pipelineConfig(e: Env) {
  return {
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    retry: Object.freeze({
      maxAttempts: e.MAX_ATTEMPTS,
      baseMs: e.RETRY_BASE_MS,
      maxMs: e.RETRY_MAX_MS,
      claimIdleMs: e.CLAIM_IDLE_MS,
    }),
    tenantBacklogLimit: e.TENANT_BACKLOG_LIMIT,
    priorityLaneShare: e.PRIORITY_LANE_PERCENT / 100,
    webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    idempotencyTtlSeconds: e.IDEMPOTENCY_TTL_SECONDS,
    metricsTenantLabel: e.METRICS_TENANT_LABEL,
    retention: Object.freeze({
      maxAgeMs: e.STREAM_RETENTION_MS,
      maxLength: e.STREAM_MAX_LENGTH,
      intervalMs: e.TRIM_INTERVAL_MS,
    }),
  };
}

function serverConfig(e: Env) {
  return {
    secretsKey: e.SECRETS_ENCRYPTION_KEY,
    secretsPreviousKeys: Object.freeze(e.SECRETS_ENCRYPTION_PREVIOUS_KEYS ?? []),
    http: Object.freeze({
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      // Node requires the headers timeout not to exceed the request timeout.
      headersTimeoutMs: Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS),
      idleTimeoutMs: e.HTTP_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
    }),
    writebackAllowPrivate: e.WRITEBACK_ALLOW_PRIVATE,
    jaegerUiUrl: e.JAEGER_UI_URL?.replace(/\/+$/, ''),
  };
}

/** Reads and validates the environment once; everything else receives the frozen result. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(env);
  return Object.freeze({ ...connectionConfig(e), ...llmConfig(e), ...pipelineConfig(e), ...serverConfig(e) });
}
