import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { RowRestriction } from '../store/repository';
import { AccessPolicy } from './access-policy';
import { compartmentParams, compartmentPatientsOf } from './patient-compartment';
import type { Principal } from './principal';

/**
 * One caller's access, as decisions the repository wrapper asks for and as the SQL restriction the search module
 * adds to its queries. A doctor's patients are those with an Encounter, Appointment or ServiceRequest that names
 * the doctor (participant, actor, requester); that set is a subquery over the reference index, so it is always as
 * current as the data and is never loaded into memory.
 */

/** Compartment types that also hold rows belonging to no patient (a doctor's Schedule), visible when they do. */
const SHARED_COMPARTMENT_TYPES = new Set(['Schedule']);

/** Per resource type: the parameter naming the patient and the one naming the practitioner who links them. */
const LINKS: Array<{ type: string; patient: string; practitioner: string }> = [
  { type: 'Encounter', patient: 'subject', practitioner: 'participant' },
  { type: 'Appointment', patient: 'patient', practitioner: 'actor' },
  { type: 'ServiceRequest', patient: 'subject', practitioner: 'requester' },
];

export function forbidden(diagnostics: string): OperationOutcomeError {
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', id: 'forbidden', issue: [{ severity: 'error', code: 'forbidden', diagnostics }] };
  return new OperationOutcomeError(outcome);
}

/** The ids of the patients linked to a practitioner, as a subquery. */
export function linkedPatients(db: Knex | Knex.Transaction, practitionerId: string): Knex.QueryBuilder {
  return db('fhir_idx_reference as lk_p').select('lk_p.target_id').where('lk_p.target_type', 'Patient')
    .where((w) => LINKS.forEach((l) => w.orWhere((c) => c.where('lk_p.resource_type', l.type).where('lk_p.param', l.patient))))
    .whereExists(db('fhir_idx_reference as lk_d').select(db.raw('1'))
      .where('lk_d.resource_type', db.ref('lk_p.resource_type')).where('lk_d.resource_id', db.ref('lk_p.resource_id'))
      .where('lk_d.target_type', 'Practitioner').where('lk_d.target_id', practitionerId)
      .where((w) => LINKS.forEach((l) => w.orWhere((c) => c.where('lk_d.resource_type', l.type).where('lk_d.param', l.practitioner)))));
}

/**
 * The patients whose records a patient has been granted (家庭成员 / 就诊人 managed by this account): each active
 * Consent whose `patient` is the grantor and whose `provision.actor` names the grantee as a Patient. A subquery over
 * the index, so a revoked (inactive or deleted) Consent stops granting at once.
 */
export function grantedPatients(db: Knex | Knex.Transaction, granteeId: string): Knex.QueryBuilder {
  const consents = (param: string) => db('fhir_idx_reference as g_' + param).select(`g_${param}.resource_id`)
    .where(`g_${param}.resource_type`, 'Consent').where(`g_${param}.param`, param).where(`g_${param}.target_type`, 'Patient');
  return consents('patient').clearSelect().select('g_patient.target_id')
    .whereIn('g_patient.resource_id', consents('actor').where('g_actor.target_id', granteeId))
    .whereIn('g_patient.resource_id', db('fhir_idx_token as g_status').select('g_status.resource_id')
      .where('g_status.resource_type', 'Consent').where('g_status.param', 'status').where('g_status.value', 'active'));
}

export class AccessControl {
  constructor(readonly principal: Principal, readonly policy: AccessPolicy) {}

  canRead(type: string): boolean {
    return this.policy.canRead(this.principal, type);
  }

  requireRead(type: string): void {
    if (!this.canRead(type)) throw forbidden(`Your role (${this.principal.role}) may not read ${type} resources`);
  }

  requireWrite(type: string): void {
    if (!this.policy.canWrite(this.principal, type)) throw forbidden(`Your role (${this.principal.role}) may not write ${type} resources`);
  }

  /** True when the role sees only some patients' compartments (patients, doctors). */
  get compartmentBound(): boolean {
    return this.policy.compartmentOf(this.principal) !== 'all';
  }

  /** The SQL form of `canSee`, for every fhir_resources row a search reads. */
  readonly restriction: RowRestriction = Object.assign((db: Knex | Knex.Transaction, query: Knex.QueryBuilder, type: string, alias: string) => {
    if (!this.canRead(type)) {
      query.whereRaw('1 = 0');
      return;
    }
    if (this.addsNothingFor(type)) return;
    const params = compartmentParams(type) as string[];
    const member = () => db('fhir_idx_reference as cr')
      .where('cr.resource_type', type).whereIn('cr.param', params.length ? params : ['-']).where('cr.target_type', 'Patient');
    query.where((w) => {
      if (type === 'Patient') w.orWhereIn(`${alias}.id`, this.allowedPatientIds(db));
      // Uncorrelated, like the search filters: the planner can start from the caller's patients' index rows.
      w.orWhereIn(`${alias}.id`, member().select('cr.resource_id').whereIn('cr.target_id', this.allowedPatientIds(db)));
      if (SHARED_COMPARTMENT_TYPES.has(type)) w.orWhereNotExists(member().select(db.raw('1')).where('cr.resource_id', db.ref(`${alias}.id`)));
    });
  }, { addsNothingFor: (type: string) => this.addsNothingFor(type) });

  /** The restriction adds nothing for a type the caller reads whole: not bound to compartments, or not in one. */
  private addsNothingFor(type: string): boolean {
    return this.canRead(type) && (!this.compartmentBound || !compartmentParams(type));
  }

  /** Whether the caller may see this resource: the type rule, then compartment membership. */
  async canSee(db: Knex | Knex.Transaction, resource: Resource): Promise<boolean> {
    if (!this.canRead(resource.resourceType)) return false;
    if (!this.compartmentBound || !compartmentParams(resource.resourceType)) return true;
    const ids = compartmentPatientsOf(resource);
    if (ids.length === 0) return SHARED_COMPARTMENT_TYPES.has(resource.resourceType);
    return (await this.allowedAmong(db, ids)).length > 0;
  }

  /**
   * A resource about to be written must belong only to patients the caller may write for: a patient cannot put a
   * record into someone else's compartment, and a doctor cannot link a new patient to themselves by writing an
   * Encounter (links are checked before the write, against the data as it was).
   */
  async checkWrite(db: Knex | Knex.Transaction, resource: Resource): Promise<void> {
    this.requireWrite(resource.resourceType);
    if (!this.compartmentBound || !compartmentParams(resource.resourceType)) return;
    const ids = compartmentPatientsOf(resource);
    // Only the grantor grants: a family member may act for a patient but not pass the access on.
    if (resource.resourceType === 'Consent' && this.principal.role === 'patient' && ids.some((id) => id !== this.principal.patientId)) {
      throw forbidden('Only the patient themself may grant or revoke access to their record (Consent.patient must be you)');
    }
    if (ids.length === 0) {
      if (SHARED_COMPARTMENT_TYPES.has(resource.resourceType)) return;
      throw forbidden(`A ${resource.resourceType} you write must belong to ${this.principal.role === 'patient' ? 'you' : 'one of your patients'}`);
    }
    const allowed = await this.allowedAmong(db, ids);
    if (allowed.length !== ids.length) {
      throw forbidden(`This ${resource.resourceType} refers to a patient whose record you may not write`);
    }
  }

  /**
   * A patient who names another patient in a search (`ChargeItem?subject=Patient/other`) is refused with 403 rather
   * than answered with an empty page: asking for someone else's bills is a denial the audit trail should show. Reads
   * by id still answer 404, which does not reveal whether the record exists.
   */
  async checkPatientSearch(db: Knex | Knex.Transaction, request: { resourceType: string; filters?: { code: string; value: string }[] }): Promise<void> {
    if (this.principal.role !== 'patient') return;
    const params = new Set([...(compartmentParams(request.resourceType) ?? []), 'patient', 'subject']);
    const named = (request.filters ?? [])
      .filter((f) => params.has(f.code.split(':')[0]) && (!f.code.includes(':') || f.code.endsWith(':Patient')))
      .flatMap((f) => f.value.split(','))
      .map((v) => /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(v)?.[1] ?? (/^[A-Za-z0-9\-.]{1,64}$/.test(v) ? v : undefined))
      .filter((id): id is string => !!id);
    if (named.length === 0) return;
    const allowed = await this.allowedAmong(db, [...new Set(named)]);
    if (allowed.length !== new Set(named).size) throw forbidden('You may search only your own records and those of family members who granted you access');
  }

  private allowedPatientIds(db: Knex | Knex.Transaction): string[] | Knex.QueryBuilder {
    const p = this.principal;
    // Themself (their Patient row, so the set is one subquery) and the patients who granted them access.
    if (p.role === 'patient') return p.patientId ? db('fhir_resources as self').select('self.id as target_id').where('self.resource_type', 'Patient').where('self.id', p.patientId).union(grantedPatients(db, p.patientId)) : [];
    if (p.role === 'doctor') return p.practitionerId ? linkedPatients(db, p.practitionerId) : [];
    return [];
  }

  private async allowedAmong(db: Knex | Knex.Transaction, ids: string[]): Promise<string[]> {
    const p = this.principal;
    if (p.role === 'patient') {
      if (!p.patientId) return [];
      const others = ids.filter((id) => id !== p.patientId);
      const granted = others.length ? (await grantedPatients(db, p.patientId).whereIn('g_patient.target_id', others)).map((r: { target_id: string }) => r.target_id) : [];
      return ids.filter((id) => id === p.patientId || granted.includes(id));
    }
    if (p.role === 'doctor' && p.practitionerId) {
      const rows = await linkedPatients(db, p.practitionerId).whereIn('lk_p.target_id', ids).distinct();
      return [...new Set(rows.map((r: { target_id: string }) => r.target_id))];
    }
    return [];
  }
}
