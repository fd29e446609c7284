import { OperationOutcomeError, isGone, isNotFound } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Bus, Delivery, Subscription } from '../../engine/bus/bus';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { FhirChangeEvent } from '../../fhir-resources/store/outbox-relay';
import { FHIR_EXCHANGE } from '../../fhir-resources/store/outbox-relay';
import type { Repository } from '../../fhir-resources/store/repository';
import { alreadyAccepted } from '../already-accepted';

export const fhirEventsSchema = z.object({
  /** Routing-key patterns on the `fhir` exchange, e.g. `ServiceRequest.create`, `ServiceRequest.*`, `Task.#`. */
  events: z.array(z.string().regex(/^[A-Za-z#*]+(\.[a-z#*]+)?$/, 'a pattern like ServiceRequest.create or Task.*')).min(1),
  /** Handler runs in flight; events of one resource always stay in version order. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /**
   * Reference fields of the changed resource (e.g. `subject`) whose targets travel with the event, read when it is
   * accepted, so that a mapping that needs the patient of an order stays a pure function of the message. A dotted
   * path walks on through elements and the resources references point at: `request.lineItem.chargeItemReference`
   * brings the Invoice a PaymentNotice's `request` names and the ChargeItems of its line items; every reference met
   * on the way is read too.
   */
  references: z.array(z.string().regex(/^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)*$/, 'a field or a dotted path of fields, e.g. subject or request.lineItem.chargeItemReference')).default([]),
}).strict();

/** What the channel's transformer receives: the event and the version it names (absent for a delete). */
export interface FhirEventMessage {
  event: FhirChangeEvent;
  resource?: Resource;
  /** The resources the `references` option names, by reference (`Patient/123`); absent when not in the store. */
  referenced?: Record<string, Resource>;
}

/*
 * Paused channels and a store that is briefly unreachable make the handler throw; the bus then retries with backoff.
 * The retry budget is generous because giving up would drop an event that an outbound channel (orders to the HIS,
 * refunds to the gateway) must act on; after it, the event waits in the dead-letter queue for reprocessing.
 */
const RETRY = { maxAttempts: 200, initialDelayMs: 500, maxDelayMs: 60_000, multiplier: 2, jitter: 0.2 };

/**
 * The source of outbound channels: FHIR change events from the store's outbox, consumed from a queue bound to the
 * `fhir` topic exchange. Each event is stored as a channel message carrying the resource version it names, read at
 * that version, so the mapping stays a pure function of the message. The event id (`fhir-event-<seq>`) is the
 * message's correlation id: a redelivered event that was already stored is acknowledged without storing it twice.
 */
export function fhirEventsSource(bus: Bus, db: Knex, repository: () => Repository, options: z.input<typeof fhirEventsSchema>): SourceConnector {
  const { events, concurrency, references } = fhirEventsSchema.parse(options);
  let subscription: Subscription | undefined;
  return {
    type: 'fhir-events',
    async start(ctx: SourceContext) {
      const log = childLogger({ component: 'fhir-events-source', channel: ctx.channelId });
      const queue = `fhir-events.${ctx.channelId}`;
      for (const pattern of events) await bus.bindTopic(queue, FHIR_EXCHANGE, pattern);
      subscription = await bus.subscribe(queue, async (delivery: Delivery) => {
        if (!ctx.accepting()) throw new Error(`channel ${ctx.channelId} is paused; the event waits`);
        if (delivery.redelivered && (await alreadyAccepted(db, ctx.channelId, [delivery.id])).has(delivery.id)) return;
        const event = delivery.body as FhirChangeEvent;
        const resource = await versionOf(repository(), event);
        const referenced = resource && references.length ? await referencedBy(repository(), resource, references) : undefined;
        const message: FhirEventMessage = { event, resource, ...(referenced ? { referenced } : {}) };
        await ctx.accept({ content: JSON.stringify(message), contentType: 'application/fhir+json', correlationId: delivery.id });
        log.debug('fhir event accepted', { event: delivery.id, resourceType: event.resourceType, action: event.action });
      }, { concurrency, ordered: true, retry: RETRY });
    },
    async stop() {
      await subscription?.close();
      subscription = undefined;
    },
  };
}

async function versionOf(repo: Repository, event: FhirChangeEvent): Promise<Resource | undefined> {
  if (event.action === 'delete') return undefined;
  try {
    return await repo.vread(event.resourceType as ResourceType, event.id, event.versionId);
  } catch (err) {
    // A version is never removed, but a resource type the event names may be unreadable after a purge: keep the event.
    if (err instanceof OperationOutcomeError && isGone(err.outcome)) return undefined;
    throw err;
  }
}

const LITERAL = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

const literalOf = (value: unknown): string | undefined => {
  const reference = (value as { reference?: unknown } | null | undefined)?.reference;
  return typeof reference === 'string' && LITERAL.test(reference) ? reference : undefined;
};

async function referencedBy(repo: Repository, resource: Resource, paths: string[]): Promise<Record<string, Resource>> {
  const out: Record<string, Resource> = {};
  const load = async (reference: string): Promise<Resource | undefined> => {
    if (reference in out) return out[reference];
    const [, type, id] = LITERAL.exec(reference)!;
    try {
      out[reference] = await repo.read(type as ResourceType, id);
    } catch (err) {
      // A dangling or deleted reference is the mapping's to report; a store failure is retried.
      if (!(err instanceof OperationOutcomeError && (isGone(err.outcome) || isNotFound(err.outcome)))) throw err;
    }
    return out[reference];
  };
  for (const path of paths) {
    let values: unknown[] = [resource];
    for (const field of path.split('.')) {
      const next: unknown[] = [];
      for (const value of values) {
        const reference = value === resource ? undefined : literalOf(value);
        const holder = reference ? await load(reference) : value;
        const child = (holder as Record<string, unknown> | undefined)?.[field];
        for (const v of Array.isArray(child) ? child : [child]) if (v !== undefined && v !== null) next.push(v);
      }
      values = next;
    }
    for (const value of values) {
      const reference = literalOf(value);
      if (reference) await load(reference);
    }
  }
  return out;
}
