import { sqlFiles } from '../sql-files.js';

/** The admin API's SQL statements (ticket listing, context data). */
export const adminSql = sqlFiles(new URL('./sql/', import.meta.url), {
  listTickets: 'list-tickets',
  upsertAssets: 'upsert-assets',
  upsertKbArticles: 'upsert-kb-articles',
  listAssets: 'list-assets',
  listKbArticles: 'list-kb-articles',
  deleteAsset: 'delete-asset',
  deleteKbArticle: 'delete-kb-article',
});
