/** A mistake in how the CLI was called: exit status 2, the message on one line. */
export class UsageError extends Error {}
