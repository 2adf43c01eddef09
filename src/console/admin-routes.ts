import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../admin/input.js';
import { tenantIdSchema } from '../tenants/registry.js';
import type { OverviewSource } from './overview.js';

/** How often an open overview stream gets fresh numbers, and the last hour's chart. */
export const streamIntervals = { overviewMs: 2_000, historyMs: 15_000 } as const;

const historyQuery = z.object({ tenant: tenantIdSchema.optional() });

/**
 * The overview as JSON (`GET /v1/admin/overview`, `GET /v1/admin/overview/history?tenant=`) and as
 * Server-Sent Events (`GET /v1/admin/overview/stream`: `overview` every 2 s, `history` every 15 s),
 * plus the console's settings. Registered in the admin scope (bearer token or console session).
 */
export async function consoleAdminRoutes(
  app: FastifyInstance,
  deps: { overview: OverviewSource; jaegerUiUrl: string | undefined },
): Promise<void> {
  const { overview } = deps;
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  app.get('/v1/admin/console-settings', async () => ({ jaegerUiUrl: deps.jaegerUiUrl ?? null }));
  app.get('/v1/admin/overview', async () => overview.overview());
  app.get<{ Querystring: Record<string, unknown> }>('/v1/admin/overview/history', async (request) => {
    const { tenant } = parseInput(historyQuery, request.query);
    return { points: await overview.lastHour(tenant ? [tenant] : undefined) };
  });

  app.get<{ Querystring: Record<string, unknown> }>('/v1/admin/overview/stream', async (request, reply) => {
    const { tenant } = parseInput(historyQuery, request.query);
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    streams.add(stream);
    const send = (event: string, data: unknown) => {
      if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const problem = (error: unknown) =>
      send('problem', {
        message: `The numbers could not be read: ${error instanceof Error ? error.message : String(error)}`,
      });
    const pushOverview = () => overview.overview().then((value) => send('overview', value), problem);
    const pushHistory = () =>
      overview.lastHour(tenant ? [tenant] : undefined).then((points) => send('history', { points }), problem);
    stream.write('retry: 3000\n\n');
    void pushOverview();
    void pushHistory();
    const timers = [
      setInterval(() => void pushOverview(), streamIntervals.overviewMs),
      setInterval(() => void pushHistory(), streamIntervals.historyMs),
    ];
    stream.on('close', () => {
      timers.forEach(clearInterval);
      streams.delete(stream);
    });
  });
}
