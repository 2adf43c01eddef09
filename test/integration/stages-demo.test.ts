import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';
import { loadConfig } from '../../src/config/config.js';
import { dropTestData, isolatedEnv, uniqueId } from '../support/env.js';

// No OPENAI_API_KEY: the demo must work with nothing but Redis and Postgres.
const config = loadConfig(isolatedEnv(uniqueId()));

afterAll(async () => {
  await dropTestData(config);
});

describe('streamdesk demo', () => {
  it('creates the demo tenant, enhances 20 tickets offline and prints them; a second run reuses the tenant', async () => {
    const output: string[] = [];
    const options = { out: (text: string) => output.push(text), logger: pino({ level: 'silent' }), timeoutMs: 30_000 };

    const first = await runDemo(config, options);
    expect(first).toMatchObject({ tenant: 'demo', tenantCreated: true, complete: true });
    expect(first.rows).toHaveLength(20);
    expect(
      first.rows.every(
        (row) =>
          row.status === 'written_back' && row.category && row.priority && row.summary && row.pipelineMs !== null,
      ),
    ).toBe(true);
    const text = output.join('\n');
    expect(text).toMatch(/Ticket\s+Subject\s+Category\s+Priority\s+Conf\.\s+Summary\s+Enhance ms\s+Total ms/);
    expect(text).toContain('20 of 20 written back');
    const erp = first.rows.find((row) => row.subject.startsWith('Outage: ERP down'));
    expect(erp).toMatchObject({ priority: 'urgent' });

    output.length = 0;
    const second = await runDemo(config, options);
    expect(second).toMatchObject({ tenant: 'demo', tenantCreated: false, complete: true });
    expect(second.rows.every((row) => row.status === 'written_back')).toBe(true);
    const firstIds = new Set(first.rows.map((row) => row.ticketId));
    expect(second.rows.filter((row) => firstIds.has(row.ticketId))).toEqual([]);
    expect(output.join('\n')).toContain('Reusing tenant "demo"');
  });
});
