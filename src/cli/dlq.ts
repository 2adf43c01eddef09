import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { StreamdeskError } from '../errors.js';
import type { Services } from '../runtime/services.js';
import { listDeadLetters, redriveDeadLetters } from '../streams/dlq.js';
import { openCliServices } from './cli-services.js';
import type { Command } from './command.js';
import { printable } from './printable.js';
import { UsageError } from './usage-error.js';

function print(value: unknown, asJson: boolean, text: () => string): void {
  process.stdout.write(`${asJson ? JSON.stringify(value, null, 2) : text()}\n`);
}

async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const services = await openCliServices(config);
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

async function list(services: Services, tenant: string, asJson: boolean): Promise<number> {
  const letters = await listDeadLetters(services.redis, services.keys, tenant, 1_000);
  print({ deadLetters: letters }, asJson, () =>
    letters.length === 0
      ? 'No dead letters'
      : letters
          .map(
            (l) =>
              `${l.id}\t${l.group}\t${l.code}\tattempts=${l.attempts}\tticket=${printable(l.event.ticket ?? '?')}\t${printable(l.message)}`,
          )
          .join('\n'),
  );
  return 0;
}

async function redrive(
  services: Services,
  tenant: string,
  ids: string[] | undefined,
  asJson: boolean,
): Promise<number> {
  const result = await redriveDeadLetters(services.redis, services.keys, tenant, ids);
  print(
    result,
    asJson,
    () =>
      `Redrove ${result.redriven} dead letter(s)${result.missing.length > 0 ? `; not found: ${result.missing.join(', ')}` : ''}`,
  );
  return result.missing.length > 0 ? 1 : 0;
}

/** `streamdesk dlq list|redrive`: a tenant's dead letters. */
export const dlqCommand: Command = {
  name: 'dlq',
  help: [
    { usage: ['dlq list --tenant T [--json]'], summary: ['show dead letters'] },
    { usage: ['dlq redrive --tenant T [--id ID ...]'], summary: ['put dead letters back on the stream'] },
  ],
  async run(config, args) {
    const [sub, ...rest] = args;
    const { values } = parseArgs({
      args: rest,
      options: {
        tenant: { type: 'string' },
        id: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
      },
    });
    if (!values.tenant) throw new UsageError('dlq needs --tenant T');
    const tenant = values.tenant;
    return withServices(config, async (services) => {
      if (!(await services.registry.get(tenant)))
        throw new StreamdeskError('UNKNOWN_TENANT', `Tenant "${tenant}" does not exist`);
      if (sub === 'list') return list(services, tenant, values.json);
      if (sub === 'redrive') return redrive(services, tenant, values.id, values.json);
      throw new UsageError('dlq needs a subcommand: list or redrive');
    });
  },
};
