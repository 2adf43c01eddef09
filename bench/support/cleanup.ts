/**
 * Undo actions of a bench run, newest first. Phases push what they create (roles, children,
 * prefixes, schemas) and remove it once they cleaned up themselves; whatever is left runs on
 * failure or on SIGINT/SIGTERM.
 */
export class Cleanups {
  private readonly actions: { label: string; run: () => Promise<unknown> }[] = [];

  /** Returns a function that forgets the action (after the phase ran it itself). */
  push(label: string, run: () => Promise<unknown>): () => void {
    const action = { label, run };
    this.actions.push(action);
    return () => {
      const index = this.actions.indexOf(action);
      if (index >= 0) this.actions.splice(index, 1);
    };
  }

  async runAll(log: (message: string) => void = () => undefined): Promise<void> {
    while (this.actions.length > 0) {
      const action = this.actions.pop()!;
      try {
        await action.run();
      } catch (error) {
        log(`cleanup "${action.label}" failed: ${(error as Error).message}`);
      }
    }
  }
}
