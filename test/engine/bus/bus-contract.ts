import { Bus, BusMessage, Delivery, Handler, RetryPolicy, SubscribeOptions, Subscription } from '../../../engine/bus/bus';

/**
 * What every bus implementation promises (engine/bus/bus.ts). Each implementation's test file supplies a fixture
 * on a real broker or database; nothing here knows which one it runs on.
 */
export interface BusFixture {
  bus: Bus;
  /** Another started instance on the same broker / database: a restarted or second process. */
  reopen(): Promise<Bus>;
  /** Ends an instance the way a crash would: running handlers are abandoned, nothing is acked. */
  crash(bus: Bus): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * The fixture both implementations share: every instance opened is remembered, and cleanup closes each (bounded,
 * then aborted) before the implementation removes its own broker objects or database.
 */
export async function fixtureOf<B extends Bus & { abort(): Promise<void> }>(make: () => B, removeAll: (opened: B[]) => Promise<void>): Promise<BusFixture> {
  const opened: B[] = [];
  const open = async (): Promise<Bus> => {
    const bus = make();
    await bus.start();
    opened.push(bus);
    return bus;
  };
  return {
    bus: await open(),
    reopen: open,
    crash: (b) => (b as B).abort(),
    cleanup: async () => {
      for (const b of opened) await atMost(5000, b.close());
      for (const b of opened) await b.abort();
      await removeAll(opened);
    },
  };
}

function policy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 2000, multiplier: 2, jitter: 0, ...overrides };
}

function options(overrides: Partial<SubscribeOptions> = {}): SubscribeOptions {
  return { concurrency: 4, retry: policy(), ...overrides };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `work` but at most `ms`: a failed test may leave a handler hanging, which must not hang the suite. */
export async function atMost(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let queueCounter = 0;
/** Fixtures isolate runs (prefix / database); this isolates tests that share a fixture's broker objects. */
function queueName(what: string): string {
  return `${what}-${++queueCounter}`;
}

export function busContract(name: string, makeBus: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    let subs: Subscription[];

    beforeEach(async () => {
      fx = await makeBus();
      subs = [];
    });

    afterEach(async () => {
      for (const s of subs) await atMost(5000, s.close());
      await fx.cleanup();
    });

    async function subscribe(bus: Bus, queue: string, handler: Handler, opts: SubscribeOptions): Promise<Subscription> {
      const sub = await bus.subscribe(queue, handler, opts);
      subs.push(sub);
      return sub;
    }

    it('resolves publish only after durable accept and delivers every message exactly once in the happy path', async () => {
      const queue = queueName('happy');
      const messages: BusMessage[] = Array.from({ length: 50 }, (_, i) => ({
        id: `m${i}`, body: { n: i, text: '检验结果' }, ...(i % 2 ? { key: `k${i % 5}` } : {}), headers: { source: 'lis', n: i, urgent: i === 7 },
      }));
      await fx.bus.publish(queue, messages.slice(0, 20));
      await fx.bus.publish(queue, messages.slice(20));
      // Another instance sees them at once: they are in the broker / committed, not in a client buffer.
      const observer = await fx.reopen();
      expect(await observer.depth(queue)).toBe(50);
      await observer.close();

      const got: Delivery[] = [];
      await subscribe(fx.bus, queue, async (d) => { got.push(d); }, options());
      await eventually('50 deliveries', () => got.length >= 50);
      await sleep(300);

      expect(got.map((d) => d.id).sort()).toEqual(messages.map((m) => m.id).sort());
      for (const d of got) {
        const sent = messages.find((m) => m.id === d.id)!;
        expect(d).toMatchObject({ body: sent.body, key: sent.key, headers: sent.headers, attempt: 1, redelivered: false, lastAttempt: false });
      }
    });

    it('removes an acked message from the queue for good', async () => {
      const queue = queueName('ack');
      await fx.bus.publish(queue, Array.from({ length: 5 }, (_, i) => ({ id: `a${i}`, body: i })));
      expect(await fx.bus.depth(queue)).toBe(5);

      let handled = 0;
      const sub = await subscribe(fx.bus, queue, async () => { handled++; }, options());
      await eventually('5 handled', () => handled === 5);
      await sub.close();
      await fx.bus.close();

      // Unacked messages would be back in the queue now that their consumer is gone.
      const after = await fx.reopen();
      expect(await after.depth(queue)).toBe(0);
    });

    it('retries a throwing handler after the backoff delay with attempt numbers 1, 2, 3', async () => {
      const queue = queueName('retry');
      const runs: { attempt: number; at: number; redelivered: boolean; lastAttempt: boolean }[] = [];
      await subscribe(fx.bus, queue, async (d) => {
        runs.push({ attempt: d.attempt, at: Date.now(), redelivered: d.redelivered, lastAttempt: d.lastAttempt });
        if (d.attempt < 3) throw new Error(`not yet (${d.attempt})`);
      }, options({ retry: policy({ maxAttempts: 3, initialDelayMs: 150, multiplier: 2 }) }));
      await fx.bus.publish(queue, [{ id: 'r1', body: { order: 'ORM-1' } }]);

      await eventually('third attempt', () => runs.length >= 3);
      await sleep(200);
      expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(runs.map((r) => r.redelivered)).toEqual([false, true, true]);
      expect(runs.map((r) => r.lastAttempt)).toEqual([false, false, true]);
      expect(runs[1].at - runs[0].at).toBeGreaterThanOrEqual(150 * 0.9);
      expect(runs[2].at - runs[1].at).toBeGreaterThanOrEqual(300 * 0.9);
      expect(runs[2].at - runs[0].at).toBeLessThan(10_000);
      expect(await fx.bus.deadLetters(queue)).toEqual([]);
      expect(await fx.bus.depth(queue)).toBe(0);
    });

    it('dead-letters a message after maxAttempts with its last error, and dropDeadLetter removes it', async () => {
      const queue = queueName('dead');
      let runs = 0;
      await subscribe(fx.bus, queue, async (d) => {
        runs++;
        throw new Error(`HIS rejected the order on attempt ${d.attempt}`);
      }, options({ retry: policy({ maxAttempts: 2, initialDelayMs: 50 }) }));
      await fx.bus.publish(queue, [{ id: 'd1', body: { order: 'ORM-2' }, key: 'patient-9', headers: { source: 'his' } }]);

      await eventually('a dead letter', async () => (await fx.bus.deadLetters(queue)).length === 1);
      await sleep(300);
      expect(runs).toBe(2);
      const [dead] = await fx.bus.deadLetters(queue);
      expect(dead).toMatchObject({ queue, id: 'd1', body: { order: 'ORM-2' }, key: 'patient-9', headers: { source: 'his' }, attempts: 2 });
      expect(dead.lastError).toContain('HIS rejected the order on attempt 2');
      expect(await fx.bus.depth(queue)).toBe(0);

      await fx.bus.dropDeadLetter(queue, 'd1');
      expect(await fx.bus.deadLetters(queue)).toEqual([]);
    });

    it('keeps per-key order under competing ordered consumers while different keys run in parallel', async () => {
      const queue = queueName('ordered');
      const keys = Array.from({ length: 20 }, (_, k) => `patient-${k}`);
      const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
      const running = new Set<string>();
      let overlapped = false;
      let active = 0;
      let maxActive = 0;
      const handler: Handler = async (d) => {
        if (running.has(d.key!)) overlapped = true;
        running.add(d.key!);
        maxActive = Math.max(maxActive, ++active);
        await sleep(Math.random() * 4);
        seen.get(d.key!)!.push((d.body as { seq: number }).seq);
        active--;
        running.delete(d.key!);
      };
      const opts = options({ concurrency: 8, ordered: true });
      await subscribe(fx.bus, queue, handler, opts);
      await subscribe(fx.bus, queue, handler, opts);

      const messages: BusMessage[] = [];
      for (let seq = 0; seq < 25; seq++) for (const key of keys) messages.push({ id: `${key}-${seq}`, key, body: { seq } });
      for (let i = 0; i < messages.length; i += 100) await fx.bus.publish(queue, messages.slice(i, i + 100));

      await eventually('500 deliveries', () => [...seen.values()].reduce((n, s) => n + s.length, 0) >= 500, 40_000);
      expect(overlapped).toBe(false);
      for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(maxActive).toBeGreaterThan(1);
    });

    it('keeps a key in order when one of its messages fails twice and then succeeds', async () => {
      const queue = queueName('ordered-retry');
      const runs: string[] = [];
      await subscribe(fx.bus, queue, async (d) => {
        const seq = (d.body as { seq: number }).seq;
        runs.push(`${d.key}:${seq}#${d.attempt}`);
        if (d.key === 'A' && seq === 3 && d.attempt <= 2) throw new Error('LIS busy');
      }, options({ concurrency: 4, ordered: true, retry: policy({ maxAttempts: 5, initialDelayMs: 50 }) }));
      const messages: BusMessage[] = [];
      for (let seq = 0; seq < 10; seq++) for (const key of ['A', 'B']) messages.push({ id: `${key}${seq}`, key, body: { seq } });
      await fx.bus.publish(queue, messages);

      await eventually('all runs', () => runs.length >= 22);
      await sleep(200);
      const a = runs.filter((r) => r.startsWith('A:'));
      expect(a).toEqual(['A:0#1', 'A:1#1', 'A:2#1', 'A:3#1', 'A:3#2', 'A:3#3', 'A:4#1', 'A:5#1', 'A:6#1', 'A:7#1', 'A:8#1', 'A:9#1']);
      expect(runs.filter((r) => r.startsWith('B:'))).toEqual(Array.from({ length: 10 }, (_, i) => `B:${i}#1`));
      expect(await fx.bus.deadLetters(queue)).toEqual([]);
    });

    it('redelivers unacked messages with redelivered=true when their consumer dies', async () => {
      const queue = queueName('crash');
      const doomed = await fx.reopen();
      const taken: string[] = [];
      await doomed.subscribe(queue, async (d) => {
        taken.push(d.id);
        await new Promise(() => undefined); // the process dies before this handler ever finishes
      }, options({ concurrency: 5 }));
      await doomed.publish(queue, [1, 2, 3].map((i) => ({ id: `c${i}`, body: { i } })));
      await eventually('the first consumer to take all three', () => taken.length === 3);
      await fx.crash(doomed);

      const survivor = await fx.reopen();
      const got: Delivery[] = [];
      await subscribe(survivor, queue, async (d) => { got.push(d); }, options());
      await eventually('redelivery', () => got.length >= 3);
      expect(got.map((d) => d.id).sort()).toEqual(['c1', 'c2', 'c3']);
      for (const d of got) expect(d).toMatchObject({ redelivered: true, attempt: 2 });
    });

    it('delivers messages published before a restart once a new instance starts', async () => {
      const queue = queueName('restart');
      await fx.bus.publish(queue, [
        { id: 'p1', body: { n: 1 } },
        { id: 'p2', body: { n: 2 }, key: 'patient-1' },
        { id: 'p3', body: { n: 3 }, key: 'patient-2' },
      ]);
      await fx.bus.close();

      const restarted = await fx.reopen();
      const got: Delivery[] = [];
      await subscribe(restarted, queue, async (d) => { got.push(d); }, options());
      await eventually('delivery after restart', () => got.length >= 3);
      expect(got.map((d) => d.id).sort()).toEqual(['p1', 'p2', 'p3']);
      for (const d of got) expect(d.attempt).toBe(1);
    });

    it('routes a topic message to every queue bound with a matching pattern and drops one that matches none', async () => {
      const exchange = queueName('fhir');
      const [patients, creates, everything] = [queueName('t-patient'), queueName('t-create'), queueName('t-all')];
      await fx.bus.bindTopic(patients, exchange, 'Patient.*');
      await fx.bus.bindTopic(creates, exchange, '*.create');
      await fx.bus.bindTopic(everything, exchange, '#');
      await fx.bus.bindTopic(everything, exchange, '#'); // idempotent: still one copy

      await fx.bus.publishTopic(exchange, [
        { id: 'e1', routingKey: 'Patient.create', body: { id: 'p1' }, key: 'Patient/p1' },
        { id: 'e2', routingKey: 'Patient.update', body: { id: 'p1' }, key: 'Patient/p1' },
        { id: 'e3', routingKey: 'Observation.create', body: { id: 'o1' } },
      ]);
      const seen = new Map<string, Delivery[]>();
      for (const q of [patients, creates, everything]) {
        seen.set(q, []);
        await subscribe(fx.bus, q, async (d) => { seen.get(q)!.push(d); }, options({ ordered: true }));
      }
      await eventually('topic deliveries', () => [...seen.values()].reduce((n, l) => n + l.length, 0) >= 7);
      await sleep(300);
      expect(seen.get(patients)!.map((d) => d.id)).toEqual(['e1', 'e2']);
      expect(seen.get(creates)!.map((d) => d.id).sort()).toEqual(['e1', 'e3']);
      expect(seen.get(everything)!.map((d) => d.id).sort()).toEqual(['e1', 'e2', 'e3']);
      expect(seen.get(patients)![0]).toMatchObject({ key: 'Patient/p1', body: { id: 'p1' }, headers: { routingKey: 'Patient.create' } });

      // Only `#` listens to Encounter events; on an exchange nobody is bound to, the publish still succeeds.
      await fx.bus.publishTopic(exchange, [{ id: 'e4', routingKey: 'Encounter.delete', body: {} }]);
      await fx.bus.publishTopic(queueName('unbound'), [{ id: 'e5', routingKey: 'Encounter.delete', body: {} }]);
      await eventually('the # queue gets e4', () => seen.get(everything)!.some((d) => d.id === 'e4'));
      await sleep(200);
      expect(seen.get(patients)!.length + seen.get(creates)!.length).toBe(4);
    });

    it('keeps topic bindings across a restart', async () => {
      const exchange = queueName('fhir');
      const queue = queueName('t-restart');
      await fx.bus.bindTopic(queue, exchange, 'Task.#');
      await fx.bus.close();

      const restarted = await fx.reopen();
      await restarted.publishTopic(exchange, [{ id: 'r1', routingKey: 'Task.update', body: { id: 't1' } }]);
      const got: Delivery[] = [];
      await subscribe(restarted, queue, async (d) => { got.push(d); }, options());
      await eventually('delivery through a binding made before the restart', () => got.length >= 1);
      expect(got[0]).toMatchObject({ id: 'r1', body: { id: 't1' } });
    });
  });
}
