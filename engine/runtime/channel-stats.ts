import { Counter, Registry, Gauge } from 'prom-client';

export type CounterName = 'received' | 'filtered' | 'queued' | 'sent' | 'errored';
const NAMES: CounterName[] = ['received', 'filtered', 'queued', 'sent', 'errored'];
const WINDOW_S = 15 * 60;

/**
 * Per-channel counters since start and rates over the last 1/5/15 minutes. Rates are exact per-second buckets in a
 * ring, not exponential averages, so an operator reading "sent 120/min" can check it against the message browser.
 */
class RateRing {
  private readonly buckets = new Float64Array(WINDOW_S);
  private lastSecond = Math.floor(Date.now() / 1000);

  add(n: number, now = Date.now()): void {
    this.advance(now);
    this.buckets[this.lastSecond % WINDOW_S] += n;
  }

  /** Messages per second over the last `seconds`. */
  rate(seconds: number, now = Date.now()): number {
    this.advance(now);
    let sum = 0;
    for (let i = 0; i < seconds; i++) sum += this.buckets[(this.lastSecond - i + WINDOW_S) % WINDOW_S];
    return sum / seconds;
  }

  private advance(now: number): void {
    const second = Math.floor(now / 1000);
    const gap = Math.min(second - this.lastSecond, WINDOW_S);
    for (let i = 1; i <= gap; i++) this.buckets[(this.lastSecond + i) % WINDOW_S] = 0;
    if (second > this.lastSecond) this.lastSecond = second;
  }
}

export interface ChannelRates {
  counters: Record<CounterName, number>;
  rates: Record<CounterName, { m1: number; m5: number; m15: number }>;
}

export class ChannelStats {
  readonly registry = new Registry();
  private readonly total: Counter<'channel' | 'event'>;
  private readonly latency: Gauge<'channel'>;
  private readonly perChannel = new Map<string, { counters: Record<CounterName, number>; rings: Record<CounterName, RateRing> }>();

  constructor() {
    this.total = new Counter({ name: 'lingshu_channel_messages_total', help: 'Messages per channel and event', labelNames: ['channel', 'event'], registers: [this.registry] });
    this.latency = new Gauge({ name: 'lingshu_channel_last_delivery_ms', help: 'Accept-to-delivery time of the last delivered message', labelNames: ['channel'], registers: [this.registry] });
  }

  count(channel: string, event: CounterName, n = 1): void {
    const c = this.entry(channel);
    c.counters[event] += n;
    c.rings[event].add(n);
    this.total.inc({ channel, event }, n);
  }

  delivered(channel: string, receivedAt: number): void {
    this.latency.set({ channel }, Date.now() - receivedAt);
  }

  snapshot(channel: string): ChannelRates {
    const c = this.entry(channel);
    const rates = {} as ChannelRates['rates'];
    for (const n of NAMES) {
      const r = c.rings[n];
      rates[n] = { m1: round(r.rate(60)), m5: round(r.rate(300)), m15: round(r.rate(900)) };
    }
    return { counters: { ...c.counters }, rates };
  }

  private entry(channel: string) {
    let c = this.perChannel.get(channel);
    if (!c) {
      c = {
        counters: { received: 0, filtered: 0, queued: 0, sent: 0, errored: 0 },
        rings: { received: new RateRing(), filtered: new RateRing(), queued: new RateRing(), sent: new RateRing(), errored: new RateRing() },
      };
      this.perChannel.set(channel, c);
    }
    return c;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
