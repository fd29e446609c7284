import { cooperate } from '../../../engine/runtime/cooperative-yield';

function burn(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* CPU work, as a resource's validation is */ }
}

/** Background work that awaits only resolved promises runs as one microtask chain unless it cooperates. */
async function work(steps: number, done: number[], cooperating: boolean): Promise<void> {
  for (let i = 0; i < steps; i++) {
    if (cooperating) await cooperate();
    else await Promise.resolve();
    burn(1);
    done.push(i);
  }
}

/** How many steps of two background workers had run when an immediate queued before them got its turn. */
async function stepsBeforeIo(cooperating: boolean): Promise<number> {
  const done: number[] = [];
  let seenAt = -1;
  const io = new Promise<void>((resolve) => setImmediate(() => { seenAt = done.length; resolve(); }));
  await Promise.all([work(40, done, cooperating), work(40, done, cooperating), io]);
  return seenAt;
}

describe('cooperate', () => {
  it('lets I/O waiting behind background work run between slices, not after all of it', async () => {
    const seenAt = await stepsBeforeIo(true);
    expect(seenAt).toBeGreaterThanOrEqual(0);
    expect(seenAt).toBeLessThan(80);
  });

  it('without it the same work holds the loop to the end (what the test above guards against)', async () => {
    expect(await stepsBeforeIo(false)).toBe(80);
  });

  it('every waiter finishes, each step once', async () => {
    const done: number[] = [];
    await Promise.all(Array.from({ length: 20 }, () => work(10, done, true)));
    expect(done).toHaveLength(200);
  });
});
