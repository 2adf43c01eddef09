-- Deletes one of a tenant's knowledge-base articles; returns its id when it existed.
-- $1 tenant_id, $2 article id
DELETE FROM kb_articles WHERE tenant_id = $1 AND article_id = $2 RETURNING article_id
