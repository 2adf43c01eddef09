import { expect } from 'vitest';
import { StreamdeskError } from '../../src/errors.js';

/** The StreamdeskError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<StreamdeskError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StreamdeskError);
    return error as StreamdeskError;
  }
  throw new Error('expected a rejection');
}
