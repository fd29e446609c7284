import type { ServiceRequest } from '@medplum/fhirtypes';

/**
 * Order status and priority between HL7 v3 (ActStatus, ActPriority) and FHIR ServiceRequest, both directions in one
 * table each so they cannot drift apart. The platform samples write 常规 as `N`; ActPriority's own code is `R`.
 */
type Status = ServiceRequest['status'];
export type ServiceRequestStatus = Status;
type Priority = NonNullable<ServiceRequest['priority']>;

const STATUS_PAIRS: ReadonlyArray<readonly [string, Status]> = [
  ['new', 'draft'], ['active', 'active'], ['held', 'on-hold'], ['completed', 'completed'],
  ['cancelled', 'revoked'], ['nullified', 'entered-in-error'],
];
const STATUS_ALIASES: Readonly<Record<string, Status>> = { suspended: 'on-hold', aborted: 'revoked', obsolete: 'revoked' };

export function fhirOrderStatus(v3: string): Status | undefined {
  return STATUS_PAIRS.find(([code]) => code === v3)?.[1] ?? STATUS_ALIASES[v3];
}

export function v3OrderStatus(status: Status): string {
  return STATUS_PAIRS.find(([, s]) => s === status)?.[0] ?? 'active';
}

const PRIORITY_PAIRS: ReadonlyArray<readonly [string, Priority]> = [['R', 'routine'], ['UR', 'urgent'], ['A', 'asap'], ['S', 'stat']];
const PRIORITY_ALIASES: Readonly<Record<string, Priority>> = { N: 'routine', U: 'urgent', EM: 'stat' };

export function fhirPriority(v3: string): Priority | undefined {
  return PRIORITY_PAIRS.find(([code]) => code === v3)?.[1] ?? PRIORITY_ALIASES[v3];
}

export function v3Priority(priority: Priority): string {
  return PRIORITY_PAIRS.find(([, p]) => p === priority)![0];
}

/** What 申请单 and 医嘱 items are, said in a code system both sides read: SNOMED CT (FHIR's ServiceRequest category example set). */
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
