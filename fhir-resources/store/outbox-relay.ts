import { Knex } from 'knex';
import type winston from 'winston';
import { Bus, RetryPolicy, TopicMessage, retryDelay } from '../../engine/bus/bus';
import { childLogger } from '../../engine/logger';
import { StoreDialect, storeDialect } from './store-dialect';

export const FHIR_EXCHANGE = 'fhir';

export interface OutboxRelayOptions {
  /** Poll interval when nothing wakes the relay (writes of other nodes, rows left by a failed run). Default 1 s. */
  pollMs?: number;
  /**
   * How long a run waits after a commit wakes it, so that the commits of that moment leave in one claim → publish →
   * mark cycle rather than one cycle each. Default 10 ms.
   */
  wakeDelayMs?: number;
  /** Rows published per bus call. Default 200. */
  batchSize?: number;
  /** Published rows older than this are deleted. Default 7 days. */
  retentionMs?: number;
  /** How often pruning runs. Default 10 minutes. */
  pruneEveryMs?: number;
  /** Backoff while the bus refuses publishes. Default 0.5 s doubling to 30 s, ±20 %. */
  backoff?: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter'>;
  logger?: winston.Logger;
}

/** The change event's body on exchange `fhir`, routing key `<ResourceType>.<action>`. */
export interface FhirChangeEvent {
  resourceType: string;
  id: string;
  versionId: string;
  action: 'create' | 'update' | 'delete';
  correlationId?: string;
}

interface OutboxRow {
  seq: unknown;
  resource_type: string;
  resource_id: string;
  version_id: unknown;
  action: FhirChangeEvent['action'];
  correlation_id: string | null;
}

/**
 * Publishes the store's committed change events (fhir_outbox) on the bus in seq order and marks them published.
 *
 * At least once: a crash between the bus's confirm and the UPDATE publishes the rows again, with the same message id
 * (`fhir-event-<seq>`) for consumers to drop duplicates. Several nodes may run a relay on one database: rows are
 * claimed with a row lock that others skip, and only a run from the oldest unpublished row is published, so one
 * relay at a time moves the head and each resource's events leave in version order.
 */
export class OutboxRelay {
  private readonly dialect: StoreDialect;
  private readonly pollMs: number;
  private readonly wakeDelayMs: number;
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly pruneEveryMs: number;
  private readonly backoff: RetryPolicy;
  private readonly log: winston.Logger;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (ms since the epoch). */
  private dueAt = 0;
  private inFlight: Promise<void> | undefined;
  private wokenDuringRun = false;
  private failures = 0;
  private lastPrune = 0;

  constructor(private readonly db: Knex, private readonly bus: Pick<Bus, 'publishTopic'>, options: OutboxRelayOptions = {}) {
    this.dialect = storeDialect(db);
    this.pollMs = options.pollMs ?? 1000;
    this.wakeDelayMs = options.wakeDelayMs ?? 10;
    this.batchSize = options.batchSize ?? 200;
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600_000;
    this.pruneEveryMs = options.pruneEveryMs ?? 10 * 60_000;
    this.backoff = { maxAttempts: Infinity, initialDelayMs: 500, maxDelayMs: 30_000, multiplier: 2, jitter: 0.2, ...options.backoff };
    this.log = options.logger ?? childLogger({ component: 'fhir-outbox-relay' });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** A write committed: publish now instead of at the next poll (ignored while backing off from a bus failure). */
  wake(): void {
    if (!this.started || this.stopped || this.failures > 0) return;
    if (this.inFlight) {
      this.wokenDuringRun = true;
      return;
    }
    // A run already due sooner stays: under a steady stream of commits each wake would otherwise push it back.
    if (this.timer && this.dueAt <= Date.now() + this.wakeDelayMs) return;
    this.schedule(this.wakeDelayMs);
  }

  /** Stops polling; a run in progress finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Publishes until no unpublished row is left (or another relay holds the head). Returns the rows published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n < this.batchSize) return total;
    }
  }

  /** Deletes published rows older than the retention. Returns the rows deleted. */
  async prune(now = Date.now()): Promise<number> {
    return this.db('fhir_outbox').whereNotNull('published_at').where('published_at', '<', now - this.retentionMs).del();
  }

  /** Unpublished rows, for readiness and metrics. */
  async backlog(): Promise<number> {
    const row = await this.db('fhir_outbox').whereNull('published_at').count({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  /** One claim → publish → mark cycle of at most batchSize rows. Throws when the bus refuses them. */
  async publishBatch(): Promise<number> {
    const claimRun = this.dialect.claimOutboxRun;
    if (claimRun) {
      return this.db.transaction(async (trx) => {
        const rows = await claimRun(trx, this.batchSize, Date.now()) as unknown as OutboxRow[];
        // Marked in the claim, and committed only once the bus confirmed them: a refusal rolls the marks back.
        if (rows.length > 0) await this.bus.publishTopic(FHIR_EXCHANGE, rows.map(toTopicMessage));
        return rows.length;
      }, this.dialect.transactionConfig);
    }
    const candidates = (await this.db('fhir_outbox').select('seq').whereNull('published_at').orderBy('seq').limit(this.batchSize))
      .map((r) => Number(r.seq));
    if (candidates.length === 0) return 0;
    if (!this.dialect.relayClaimsRows) {
      const rows = await this.db('fhir_outbox').select('*').whereIn('seq', candidates).orderBy('seq') as OutboxRow[];
      return this.publishAndMark(this.db, rows);
    }
    return this.db.transaction(async (trx) => {
      const locked = await this.dialect.lockUnpublishedOutboxRows(trx, candidates) as unknown as OutboxRow[];
      // Only the unbroken run from the oldest candidate: a gap means another relay holds (or just published) rows
      // there, and publishing past it could put a resource's later version on the bus before its earlier one.
      let run = 0;
      while (run < locked.length && Number(locked[run].seq) === candidates[run]) run++;
      return this.publishAndMark(trx, locked.slice(0, run));
    }, this.dialect.transactionConfig);
  }

  private async publishAndMark(q: Knex | Knex.Transaction, rows: OutboxRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    await this.bus.publishTopic(FHIR_EXCHANGE, rows.map(toTopicMessage));
    await q('fhir_outbox').whereIn('seq', rows.map((r) => Number(r.seq))).update({ published_at: Date.now() });
    return rows.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.dueAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The next run is scheduled here, after inFlight is cleared, not inside run(): a wake that came while run()
      // was pruning or returning would otherwise set a flag nobody reads and wait a whole poll interval.
      this.inFlight = this.run().then((next) => {
        this.inFlight = undefined;
        this.schedule(this.wokenDuringRun && this.failures === 0 ? this.wakeDelayMs : next);
      });
    }, delayMs);
    this.timer.unref?.();
  }

  /** One run; returns the delay until the next. */
  private async run(): Promise<number> {
    let next = this.pollMs;
    try {
      // A commit during the drain is picked up by the next run, scheduled a wake delay after this one.
      this.wokenDuringRun = false;
      await this.drain();
      if (this.failures > 0) this.log.info('FHIR outbox relay publishing again', { failedRuns: this.failures });
      this.failures = 0;
      if (Date.now() - this.lastPrune >= this.pruneEveryMs) {
        this.lastPrune = Date.now();
        const pruned = await this.prune();
        if (pruned > 0) this.log.debug('FHIR outbox pruned', { rows: pruned });
      }
    } catch (err) {
      this.failures++;
      next = retryDelay(this.backoff, this.failures);
      // Rows stay unpublished: nothing is lost, the events are only late.
      this.log.warn('FHIR outbox relay could not publish change events; retrying', { err, failedRuns: this.failures, retryInMs: next });
    }
    return next;
  }
}

export function toTopicMessage(row: OutboxRow): TopicMessage {
  const body: FhirChangeEvent = {
    resourceType: row.resource_type,
    id: row.resource_id,
    versionId: String(row.version_id),
    action: row.action,
    ...(row.correlation_id ? { correlationId: row.correlation_id } : {}),
  };
  return {
    id: `fhir-event-${Number(row.seq)}`,
    routingKey: `${row.resource_type}.${row.action}`,
    key: `${row.resource_type}/${row.resource_id}`,
    body,
    ...(row.correlation_id ? { headers: { correlationId: row.correlation_id } } : {}),
  };
}
