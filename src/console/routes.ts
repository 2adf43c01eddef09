import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseInput } from '../admin/input.js';
import { StreamdeskError } from '../errors.js';
import { buildConsole, consoleBuildDir, consoleBuildIsStale } from './build.js';
import type { ConsoleSessions } from './session.js';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
// Everything the page loads comes from streamdesk itself; nothing may frame it.
const pageHeaders = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
const signInBody = z.object({ token: z.string().min(1, 'is required').max(1_000) });

const isHttps = (request: FastifyRequest) => request.protocol === 'https';

/** Builds the console at start-up when its sources are newer than the build (a fresh checkout after `npm ci`). */
export async function ensureConsoleBuilt(logger: Logger): Promise<void> {
  if (!consoleBuildIsStale()) return;
  try {
    const { bytes } = await buildConsole();
    logger.info({ bytes }, 'console built');
  } catch (error) {
    logger.warn({ err: error }, 'the console could not be built; /console answers 503 until `npm run build` has run');
  }
}

/** The console page and its assets (public: they hold no data), and sign-in/out at /console/api/session. */
export async function consoleRoutes(
  app: FastifyInstance,
  deps: { sessions: ConsoleSessions; logger: Logger },
): Promise<void> {
  const { sessions } = deps;
  await ensureConsoleBuilt(deps.logger);

  const serve = (file: string) => async (_request: FastifyRequest, reply: import('fastify').FastifyReply) => {
    const path = join(consoleBuildDir, file);
    if (!existsSync(path)) {
      return reply
        .status(503)
        .headers({ 'content-type': 'text/plain; charset=utf-8' })
        .send(
          'The console is not built. Run `npm run build` (or start streamdesk from a checkout with its dev dependencies).',
        );
    }
    return reply
      .status(200)
      .headers({ ...pageHeaders, 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' })
      .send(readFileSync(path));
  };
  app.get('/console', serve('index.html'));
  app.get('/console/', serve('index.html'));
  for (const asset of ['console.js', 'style.css']) app.get(`/console/assets/${asset}`, serve(join('assets', asset)));

  app.get('/console/api/session', async (request) => {
    const session = sessions.sessionOf(request);
    if (!session) throw new StreamdeskError('UNAUTHORIZED', 'Not signed in');
    return {
      signedIn: true,
      csrfToken: sessions.csrfToken(session),
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  });

  app.post('/console/api/session', async (request, reply) => {
    const { token } = parseInput(signInBody, request.body);
    try {
      const { session, csrfToken } = sessions.signIn(token, request.ip, reply, isHttps(request));
      return { signedIn: true, csrfToken, expiresAt: new Date(session.expiresAt).toISOString() };
    } catch (error) {
      if (error instanceof StreamdeskError && error.retryAfterMs !== undefined)
        void reply.header('Retry-After', String(Math.ceil(error.retryAfterMs / 1_000)));
      throw error;
    }
  });

  app.delete('/console/api/session', async (request, reply) => {
    const session = sessions.sessionOf(request);
    if (session) {
      sessions.authorises(request);
      sessions.signOut(session, reply, isHttps(request));
    }
    return reply.status(204).send();
  });
}
