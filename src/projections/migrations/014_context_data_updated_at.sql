-- Assets and knowledge-base articles are imported, edited and deleted from the admin API, the CLI
-- and the console: each row records when it last changed, shown in listings.
ALTER TABLE assets ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE kb_articles ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
