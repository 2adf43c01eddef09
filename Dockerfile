# syntax=docker/dockerfile:1
# streamdesk: one image for every role (start --role all|ingest|worker|projector).
#   docker build -t streamdesk .
#   docker run --rm -p 3000:3000 -e REDIS_URL=... -e DATABASE_URL=... streamdesk
# Debian slim, not Alpine: the build stage's devDependency `node` (a glibc Node binary from npm)
# must run there, and glibc keeps the runtime identical to what the tests ran on.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- deps: every dependency, dev included, exactly as locked ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# ---- build: compile TypeScript into dist/, copy the Lua and SQL files beside it, bundle the console ----
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY otel ./otel
COPY console ./console
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as the unprivileged `node` user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json stays: its "type": "module" makes Node load dist/**/*.js as ES modules.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
# `streamdesk <command>` on PATH for one-off commands: docker compose exec ingest streamdesk tenant create acme
RUN ln -s /app/bin/streamdesk.js /usr/local/bin/streamdesk
# Files stay owned by root: the process can read its code but not change it.
USER node
EXPOSE 3000
# Slim images have no curl; Node 22 has fetch. Liveness only: /readyz also checks Redis and Postgres.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (exec form, no npm, no shell), so SIGTERM reaches the process, which stops
# reading, finishes or releases in-flight entries and exits within SHUTDOWN_TIMEOUT_MS.
# The tracing bootstrap is loaded first and does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
CMD ["node", "--import", "./dist/otel/register.js", "dist/src/cli/bin.js", "start"]
