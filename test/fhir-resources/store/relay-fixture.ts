import type { Bus, Delivery, Subscription } from '../../../engine/bus/bus';
import { FhirChangeEvent } from '../../../fhir-resources/store/outbox-relay';

/** Everything a subscription received, in arrival order. */
export interface Collected {
  deliveries: Delivery[];
  bodies(): FhirChangeEvent[];
  subscription: Subscription;
}

export async function collect(bus: Bus, queue: string, pattern: string): Promise<Collected> {
  await bus.bindTopic(queue, 'fhir', pattern);
  const deliveries: Delivery[] = [];
  const subscription = await bus.subscribe(queue, async (d) => { deliveries.push(d); }, {
    concurrency: 1,
    ordered: true,
    retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10, multiplier: 1, jitter: 0 },
  });
  return { deliveries, bodies: () => deliveries.map((d) => d.body as FhirChangeEvent), subscription };
}

export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The real bus behind a gate that refuses the first `failures` publishes, as a broker outage would: the machine's
 * RabbitMQ cannot be stopped for one test while other suites use it (the broker-outage suite does that serially).
 */
export function refusingFirst(bus: Bus, failures: number): Pick<Bus, 'publishTopic'> & { attempts: number } {
  const gate = {
    attempts: 0,
    async publishTopic(exchange: string, messages: Parameters<Bus['publishTopic']>[1]): Promise<void> {
      gate.attempts++;
      if (gate.attempts <= failures) throw new Error('broker unreachable (simulated)');
      await bus.publishTopic(exchange, messages);
    },
  };
  return gate;
}
