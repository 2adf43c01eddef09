/** What the runner reports as it works; metrics implement it, tests may too. */
export interface RunnerObserver {
  handled(group: string, tenant: string, count: number, durationMs: number): void;
  failed(group: string, tenant: string, code: string): void;
  retried(group: string, tenant: string, attempt: number): void;
  deadLettered(group: string, tenant: string, code: string): void;
  reclaimed(group: string, tenant: string, count: number): void;
}

export const noopObserver: RunnerObserver = {
  handled: () => undefined,
  failed: () => undefined,
  retried: () => undefined,
  deadLettered: () => undefined,
  reclaimed: () => undefined,
};
