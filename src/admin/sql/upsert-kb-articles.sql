-- Inserts or replaces a tenant's knowledge-base articles by id (an import or an edit). Ids are
-- unique within one call.
-- $1 tenant_id, then parallel text arrays of equal length: $2 article ids, $3 titles, $4 bodies
-- Returns one row per article, inserted true for a new id.
INSERT INTO kb_articles AS k (tenant_id, article_id, title, body, updated_at)
SELECT $1, r.article_id, r.title, r.body, now()
  FROM unnest($2::text[], $3::text[], $4::text[]) AS r(article_id, title, body)
ON CONFLICT (tenant_id, article_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, updated_at = now()
RETURNING (k.xmax = 0) AS inserted
