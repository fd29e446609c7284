import type { InProcessSubscription } from './in-process-subscription';

/** One message of the in-process bus as held in memory; the table row is its durable copy. */
export interface Row {
  seq: number;
  queue: string;
  id: string;
  key?: string;
  body: string;
  headers: string | null;
  /** Handler runs started, as committed. */
  attempts: number;
  availableAt: number;
  lastError: string | null;
  /** Found in the table at start: an earlier process may have run it. */
  recovered: boolean;
  /** Taken under per-key ordering: no other message of its key moves until this one is settled. */
  holdsKey: boolean;
}

class Deque<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number { return this.items.length - this.head; }
  push(x: T): void { this.items.push(x); }
  unshift(x: T): void { if (this.head > 0) this.items[--this.head] = x; else this.items.unshift(x); }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined as unknown as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return x;
  }
}

export class QueueState {
  readonly ready = new Deque<Row>();
  /** Rows waiting behind the in-flight row of their key, in order (ordered subscriptions). */
  readonly blocked = new Map<string, Row[]>();
  /** Rows that hold their key and may run now: the next of a released key, or an ordered retry whose delay passed. */
  readonly resumed = new Deque<Row>();
  readonly held = new Set<string>();
  delayed: Row[] = [];
  subs: InProcessSubscription[] = [];
  rr = 0;
}
