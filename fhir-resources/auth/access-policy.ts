import { isCompartmentType } from './patient-compartment';
import type { Principal, Role } from './principal';

/**
 * What each role may do, by resource type, before the compartment narrows it to rows. The lists are the functions
 * the tender names: patients their own record and the hospital's directories; doctors their patients plus the
 * dictionaries; operators statistics, supervision, reconciliation and refunds without clinical content; integration
 * engineers the engine (the /api of channels and messages) and terminology only; admins everything.
 */
type TypeSet = ReadonlySet<string> | '*';

/** Which rows of compartment types a role sees: its own compartment, its linked patients', or every patient's. */
export type CompartmentScope = 'own' | 'linked' | 'all';

interface RoleRule {
  read: TypeSet;
  write: TypeSet;
  compartment: CompartmentScope;
}

export const TERMINOLOGY: ReadonlySet<string> = new Set([
  'CodeSystem', 'ValueSet', 'ConceptMap', 'NamingSystem', 'StructureDefinition', 'SearchParameter', 'OperationDefinition',
]);

/** Directories and dictionaries every signed-in user may read: who works where, what can be ordered, booked, bought. */
const REFERENCE_DATA = new Set([
  ...TERMINOLOGY, 'Organization', 'Location', 'Practitioner', 'PractitionerRole', 'HealthcareService', 'Endpoint',
  'Medication', 'MedicationKnowledge', 'ActivityDefinition', 'PlanDefinition', 'ChargeItemDefinition', 'ObservationDefinition',
  'SpecimenDefinition', 'Schedule', 'Slot', 'Questionnaire',
]);

/** What a patient may write directly; payment and dispensing change only through the workflow operations. */
const PATIENT_WRITES = new Set(['Patient', 'ServiceRequest', 'Appointment', 'QuestionnaireResponse', 'Consent', 'Communication']);

const OPERATOR_READS = new Set([
  ...REFERENCE_DATA, 'Patient', 'Encounter', 'Appointment', 'Invoice', 'ChargeItem', 'Account', 'PaymentNotice',
  'PaymentReconciliation', 'Task', 'MedicationDispense', 'QuestionnaireResponse',
]);
const OPERATOR_WRITES = new Set([
  'Invoice', 'ChargeItem', 'PaymentNotice', 'PaymentReconciliation', 'Task', 'MedicationDispense', 'Appointment', 'Schedule', 'Slot',
]);

const CLINICAL_WRITE_EXCLUDED = new Set([...TERMINOLOGY]);

const RULES: Record<Role, RoleRule> = {
  patient: { read: REFERENCE_DATA, write: PATIENT_WRITES, compartment: 'own' },
  doctor: { read: '*', write: '*', compartment: 'linked' },
  operator: { read: OPERATOR_READS, write: OPERATOR_WRITES, compartment: 'all' },
  engineer: { read: new Set([...TERMINOLOGY, 'Endpoint', 'Device']), write: new Set(), compartment: 'all' },
  admin: { read: '*', write: '*', compartment: 'all' },
};

/** The audit trail is read through the audit function only and never written through the API. */
const AUDIT_TYPE = 'AuditEvent';

/**
 * Operations that only some roles may invoke; any other operation is open to patients, doctors, operators and admins,
 * and runs with the caller's own access, so it can read and write only what the caller could.
 */
const OPERATION_ROLES: Record<string, ReadonlySet<string>> = {
  'approve-refund': new Set(['operator', 'admin']),
  'reject-refund': new Set(['operator', 'admin']),
  redeem: new Set(['operator', 'admin']),
  copy: new Set(['doctor', 'operator', 'admin']),
  // Binds the caller's own WeChat sign-in to a record: only a patient has one.
  'bind-wechat': new Set(['patient']),
};
const OPERATION_DEFAULT = new Set(['patient', 'doctor', 'operator', 'admin']);

function has(set: TypeSet, type: string): boolean {
  return set === '*' || set.has(type);
}

export class AccessPolicy {
  /** `publicTypes`: read without a token (terminology by default), so clients can load code systems before sign-in. */
  constructor(readonly publicTypes: ReadonlySet<string> = new Set(['CodeSystem', 'ValueSet'])) {}

  compartmentOf(p: Principal): CompartmentScope {
    return p.role === 'anonymous' ? 'all' : RULES[p.role].compartment;
  }

  canRead(p: Principal, type: string): boolean {
    if (type === AUDIT_TYPE) return this.audits(p);
    if (p.role === 'anonymous') return this.publicTypes.has(type);
    if (!this.scopeAllows(p, type, 'read')) return false;
    // Patients read their own compartment's types (narrowed to their rows by the compartment) and the directories.
    if (p.role === 'patient') return has(RULES.patient.read, type) || isCompartmentType(type);
    return has(RULES[p.role].read, type);
  }

  canWrite(p: Principal, type: string): boolean {
    if (type === AUDIT_TYPE || p.role === 'anonymous') return false;
    if (!this.scopeAllows(p, type, 'write')) return false;
    if (p.role === 'doctor' && CLINICAL_WRITE_EXCLUDED.has(type)) return false;
    return has(RULES[p.role].write, type);
  }

  audits(p: Principal): boolean {
    return p.role === 'admin' || p.functions.includes('auditor');
  }

  /** `/_history` over every type: only those who may read every type. */
  canReadSystemHistory(p: Principal): boolean {
    return p.role === 'admin';
  }

  canInvoke(p: Principal, operation: string, resourceType: string | undefined, affectsState: boolean): boolean {
    if (p.role === 'anonymous') return false;
    const roles = OPERATION_ROLES[operation] ?? (operation === 'validate' ? new Set([...OPERATION_DEFAULT, 'engineer']) : OPERATION_DEFAULT);
    if (!roles.has(p.role)) return false;
    return this.scopeAllows(p, resourceType ?? '*', affectsState ? 'write' : 'read');
  }

  /** The token's scopes must allow it too: a patient's only in `patient/` context, anyone else's in `user/` or `system/`. */
  private scopeAllows(p: Principal, type: string, mode: 'read' | 'write'): boolean {
    return p.scopes.some((s) => (p.role === 'patient' ? s.context === 'patient' : s.context !== 'patient')
      && (s.type === '*' || s.type === type) && s[mode]);
  }
}
