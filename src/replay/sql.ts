import { sqlFiles } from '../sql-files.js';

/** The replays' SQL statements. */
export const replaySql = sqlFiles(new URL('./sql/', import.meta.url), {
  originalFollowOns: 'original-follow-ons',
  countStageInputs: 'count-stage-inputs',
  archivePage: 'archive-page',
  countArchived: 'count-archived',
});
