-- Initial schema: the event archive, projected ticket state, projection checkpoints and the
-- per-tenant context sources. Every table is keyed by tenant_id first.

-- Orders Redis stream ids ("<ms>-<seq>", both unsigned 64-bit) numerically: ms * 2^64 + seq.
CREATE FUNCTION stream_position(stream_id text) RETURNS numeric
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT split_part(stream_id, '-', 1)::numeric * 18446744073709551616 + split_part(stream_id, '-', 2)::numeric $$;

CREATE TABLE events (
  tenant_id    text        NOT NULL,
  stream_id    text        NOT NULL,
  event_id     uuid        NOT NULL UNIQUE,
  type         text        NOT NULL,
  version      integer     NOT NULL,
  ticket_id    text        NOT NULL,
  causation_id text        NOT NULL,
  correlation_id text      NOT NULL,
  traceparent  text        NOT NULL,
  replay_id    text,
  data         jsonb       NOT NULL,
  occurred_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, stream_id)
);
CREATE INDEX events_ticket ON events (tenant_id, ticket_id);

CREATE TABLE tickets (
  tenant_id          text        NOT NULL,
  ticket_id          text        NOT NULL,
  status             text        NOT NULL CHECK (status IN ('received', 'context_gathered', 'enhanced', 'written_back', 'failed')),
  subject            text,
  description        text,
  priority           text,
  category           text,
  requester          jsonb,
  context            jsonb,
  enhancement        jsonb,
  writeback          jsonb,
  failure            jsonb,
  created_at         timestamptz,
  received_at        timestamptz,
  context_gathered_at timestamptz,
  enhanced_at        timestamptz,
  written_back_at    timestamptz,
  failed_at          timestamptz,
  updated_at         timestamptz NOT NULL,
  last_event_id      uuid        NOT NULL,
  last_stream_id     text        NOT NULL,
  version            integer     NOT NULL,
  search             tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', coalesce(subject, '')), 'A') ||
                       setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED,
  PRIMARY KEY (tenant_id, ticket_id)
);
CREATE INDEX tickets_search ON tickets USING gin (search);
CREATE INDEX tickets_status ON tickets (tenant_id, status);

CREATE TABLE projection_checkpoints (
  projection text        NOT NULL,
  tenant_id  text        NOT NULL,
  stream_id  text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, tenant_id)
);

CREATE TABLE assets (
  tenant_id text NOT NULL,
  asset_id  text NOT NULL,
  hostname  text NOT NULL,
  network   cidr NOT NULL,
  site      text,
  kind      text,
  PRIMARY KEY (tenant_id, asset_id)
);
CREATE INDEX assets_network ON assets USING gist (network inet_ops);

CREATE TABLE kb_articles (
  tenant_id  text NOT NULL,
  article_id text NOT NULL,
  title      text NOT NULL,
  body       text NOT NULL,
  search     tsvector GENERATED ALWAYS AS (
               setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B')) STORED,
  PRIMARY KEY (tenant_id, article_id)
);
CREATE INDEX kb_articles_search ON kb_articles USING gin (search);

CREATE TABLE writebacks (
  tenant_id      text        NOT NULL,
  ticket_id      text        NOT NULL,
  enhancement_id uuid        NOT NULL,
  target         text        NOT NULL,
  note_id        text,
  status         integer,
  written_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, ticket_id, enhancement_id)
);
