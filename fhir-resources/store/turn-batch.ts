/**
 * Items asked for within one turn of the event loop, handed over together when the turn ends (setImmediate), grouped
 * by key: the reads a burst of requests makes reach the database (or a worker thread) as one statement or message,
 * and none waits longer than the turn it was asked in.
 */
export class TurnBatch<K, T> {
  private groups = new Map<K, T[]>();

  constructor(private readonly flush: (groups: Map<K, T[]>) => void) {}

  add(key: K, item: T): void {
    if (this.groups.size === 0) setImmediate(() => this.hand());
    const list = this.groups.get(key);
    if (list) list.push(item);
    else this.groups.set(key, [item]);
  }

  private hand(): void {
    const groups = this.groups;
    this.groups = new Map();
    this.flush(groups);
  }
}
