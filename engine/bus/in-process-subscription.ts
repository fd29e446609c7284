import { Delivery, Handler, retryDelay, SubscribeOptions, Subscription } from './bus';
import type { InProcessBus } from './in-process-bus';
import type { QueueState, Row } from './in-process-queue-state';

/**
 * A consumer of one queue of the in-process bus. The bus decides which row runs where (slots, per-key holds);
 * the subscription runs the handler and reports the outcome.
 */
export class InProcessSubscription implements Subscription {
  /** Rows handed to this subscription and not yet settled (including ones waiting for their attempt commit). */
  active = 0;
  closing = false;
  readonly concurrency: number;
  readonly ordered: boolean;
  private idle: (() => void)[] = [];

  constructor(
    private readonly bus: InProcessBus,
    private readonly state: QueueState,
    private readonly handler: Handler,
    private readonly options: SubscribeOptions,
  ) {
    this.concurrency = Math.max(1, options.concurrency);
    this.ordered = options.ordered === true;
  }

  async run(row: Row): Promise<void> {
    if (this.closing) return this.finish(() => this.bus.giveBack(this.state, row));
    const max = this.options.retry.maxAttempts;
    const attempt = row.attempts;
    let error: string | null = null;
    if (attempt > max) {
      error = row.lastError ?? 'attempts exhausted: earlier runs were lost to crashes';
    } else {
      try {
        const delivery: Delivery = {
          id: row.id, body: JSON.parse(row.body), key: row.key, headers: row.headers ? JSON.parse(row.headers) : undefined,
          attempt, redelivered: row.recovered || attempt > 1, lastAttempt: attempt >= max,
        };
        await this.handler(delivery);
      } catch (err) {
        error = err instanceof Error ? err.message || err.name : String(err);
      }
    }
    if (this.bus.isStopped()) return; // aborted: the row stays in the table for the next start
    try {
      if (error === null) await this.bus.ack(this.state, row);
      else if (attempt >= max) await this.bus.deadLetter(this.state, row, error);
      else await this.bus.retryLater(this.state, row, error, retryDelay(this.options.retry, attempt));
    } catch (err) {
      this.bus.log('error', 'in-process bus: could not record an outcome; the message will run again', { id: row.id, error: (err as Error).message });
      row.lastError = error;
      this.bus.giveBack(this.state, row);
    }
    this.finish();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.state.subs = this.state.subs.filter((s) => s !== this);
    await this.bus.ackDrain();
    // Rows given back while closing go to the remaining subscriptions.
    this.bus.pump(this.state);
  }

  private finish(then?: () => void): void {
    then?.();
    this.active--;
    if (this.active === 0) for (const wake of this.idle.splice(0)) wake();
    this.bus.pump(this.state);
  }
}
