import { expect, it } from 'vitest';
import { coalesced } from '../../src/consumers/stage.js';

it('runs the calls made at once as one call per key, each caller getting its own result', async () => {
  const calls: [string, number[]][] = [];
  const double = coalesced(async (key: string, inputs: number[]) => {
    calls.push([key, inputs]);
    return inputs.map((input) => input * 2);
  });
  const results = await Promise.all([double('a', 1), double('b', 2), double('a', 3)]);
  expect(results).toEqual([2, 4, 6]);
  expect(calls).toEqual([
    ['a', [1, 3]],
    ['b', [2]],
  ]);
  expect(await double('a', 5)).toBe(10);
  expect(calls).toHaveLength(3);
});

it('runs each input alone after a gathered call failed, so only the bad one fails', async () => {
  const calls: number[][] = [];
  const check = coalesced(async (_key: string, inputs: number[]) => {
    calls.push(inputs);
    if (inputs.includes(13)) throw new Error('unlucky');
    return inputs;
  });
  const results = await Promise.allSettled([check('k', 1), check('k', 13), check('k', 2)]);
  expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(calls).toEqual([[1, 13, 2], [1], [13], [2]]);
});

it('splits a key’s calls into groups of at most maxGroup inputs', async () => {
  const calls: number[][] = [];
  const same = coalesced(async (_key: string, inputs: number[]) => {
    calls.push(inputs);
    return inputs;
  }, 2);
  expect(await Promise.all([1, 2, 3, 4, 5].map((input) => same('k', input)))).toEqual([1, 2, 3, 4, 5]);
  expect(calls).toEqual([[1, 2], [3, 4], [5]]);
});
