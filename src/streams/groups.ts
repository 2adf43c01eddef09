/**
 * The pipeline's consumer groups, named once: the stages and projections that run them, retention
 * (which never trims what the archiver has not stored) and tools that check them use these names.
 */
export const groupNames = {
  context: 'context',
  enhance: 'enhance',
  writeback: 'writeback',
  projector: 'projector',
  archiver: 'archiver',
} as const;

/** The archive projection's table, also its name in `projection_checkpoints`. */
export const archiveTable = 'events';
