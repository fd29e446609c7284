import type { AuditEvent, AuditEventEntity, Coding } from '@medplum/fhirtypes';

/**
 * AuditEvent resources as Lingshu records them: who (the token's subject and role, from which address), what (the
 * resource, the query, or the patients whose data it touched), when, and the outcome. Codes follow the R4 AuditEvent
 * value sets: type `rest` with a restful-interaction subtype for FHIR calls, DICOM 110114 "User Authentication" for
 * token issue and refused tokens.
 */
export interface AuditActor {
  /** `Patient/…`, `Practitioner/…` or the token subject; `anonymous` when no token was given. */
  who: string;
  role: string;
  /** The caller's IP address. */
  address?: string;
}

export type AuditAction = NonNullable<AuditEvent['action']>;

export interface AuditDraft {
  /** restful-interaction code (`read`, `search-type`, `create`, `operation`…) or `login`, `token-refused`. */
  subtype: string;
  action: AuditAction;
  /** `Type/id` (or `Type` for type-level interactions, `$name` for system operations). */
  entity?: string;
  /** References of the patients whose data was touched. */
  patients?: string[];
  /** The search or operation query, as sent. */
  query?: string;
  /** Access under break-glass (emergency access beyond the caller's usual rights): purposeOfEvent BTG. */
  breakGlass?: boolean;
}

export interface AuditOutcome {
  /** 0 success, 4 minor failure (refused, denied, not found), 8 serious failure. */
  code: '0' | '4' | '8';
  text?: string;
}

const REST_TYPE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
const AUTH_TYPE: Coding = { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114', display: 'User Authentication' };
const AUTH_SUBTYPES = new Set(['login', 'token-refused']);
/** Subtypes that are not FHIR restful interactions, in Lingshu's own code system. */
const LINGSHU_SUBTYPES = new Set([...AUTH_SUBTYPES, 'break-glass']);
const BREAK_THE_GLASS: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG', display: 'break the glass' };

export function auditEvent(actor: AuditActor, draft: AuditDraft, outcome: AuditOutcome, correlationId?: string): AuditEvent {
  const entity: AuditEventEntity[] = [];
  if (draft.entity || draft.query) {
    entity.push({
      ...(draft.entity ? { what: draft.entity.includes('/') ? { reference: draft.entity } : { display: draft.entity } } : {}),
      ...(draft.query ? { query: Buffer.from(draft.query, 'utf8').toString('base64') } : {}),
      ...(correlationId ? { detail: [{ type: 'correlation-id', valueString: correlationId }] } : {}),
    });
  }
  for (const p of draft.patients ?? []) {
    if (p !== draft.entity) entity.push({ what: { reference: p }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } });
  }
  return {
    resourceType: 'AuditEvent',
    type: AUTH_SUBTYPES.has(draft.subtype) ? AUTH_TYPE : REST_TYPE,
    subtype: [{ system: LINGSHU_SUBTYPES.has(draft.subtype) ? 'urn:lingshu:audit-subtype' : 'http://hl7.org/fhir/restful-interaction', code: draft.subtype }],
    action: draft.action,
    recorded: new Date().toISOString(),
    outcome: outcome.code,
    ...(outcome.text ? { outcomeDesc: outcome.text } : {}),
    ...(draft.breakGlass ? { purposeOfEvent: [{ coding: [BREAK_THE_GLASS], text: 'break-glass' }] } : {}),
    agent: [{
      who: actor.who.includes('/') ? { reference: actor.who } : { display: actor.who },
      type: { coding: [{ system: 'urn:lingshu:role', code: actor.role }] },
      requestor: true,
      ...(actor.address ? { network: { address: actor.address, type: '2' as const } } : {}),
    }],
    source: { observer: { display: 'Lingshu' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '3', display: 'Web Server' }] },
    ...(entity.length ? { entity } : {}),
  };
}

/** The columns the audit log indexes, read back from an event. */
export function auditColumns(event: AuditEvent): { agent: string; entity: string | null; patients: string | null; action: string; outcome: string; subtype: string } {
  const who = event.agent?.[0]?.who;
  const patients = (event.entity ?? []).filter((e) => e.role?.code === '1' || e.what?.reference?.startsWith('Patient/'))
    .map((e) => e.what?.reference).filter((r): r is string => Boolean(r));
  return {
    agent: (who?.reference ?? who?.display ?? 'unknown').slice(0, 200),
    entity: (event.entity?.[0]?.what?.reference ?? event.entity?.[0]?.what?.display ?? null)?.slice(0, 200) ?? null,
    // Delimited on both sides so that `patient=Patient/1` is one LIKE and never matches Patient/10.
    patients: patients.length ? `|${[...new Set(patients)].join('|')}|`.slice(0, 1000) : null,
    action: event.action ?? 'E',
    outcome: event.outcome ?? '0',
    subtype: event.subtype?.[0]?.code?.slice(0, 64) ?? '',
  };
}
