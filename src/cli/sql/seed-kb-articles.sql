-- Adds the demo tenant's knowledge-base articles; an article id that exists already is left as it is.
-- $1 tenant_id, then parallel text arrays of equal length: $2 article ids, $3 titles, $4 bodies
INSERT INTO kb_articles (tenant_id, article_id, title, body)
SELECT $1, a.article_id, a.title, a.body
  FROM unnest($2::text[], $3::text[], $4::text[]) AS a(article_id, title, body)
ON CONFLICT (tenant_id, article_id) DO NOTHING
