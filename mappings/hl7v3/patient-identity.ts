import type { BundleEntry, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { RESIDENT_ID_SYSTEM } from '../../fhir-resources/profiles';
import { conditionalCreate, conditionalUpdate, entryFullUrl, identifierToken } from './transaction-entries';
import { oidSystem } from './v3-oids';

/**
 * The master patient index rule (技术要求 10) as the v3 mappings express it:
 *
 * 1. The hospital platform's EMPI id is the patient's primary identifier: first in `Patient.identifier`, use
 *    `official`, system `urn:oid:<empiRoot>`. Other ids (HIS 病人ID of another domain, 健康卡号, 医保卡号) follow
 *    as `secondary`.
 * 2. A registration whose 公民身份号码 matches an existing patient updates that patient instead of creating a second
 *    one: the Patient entry is a conditional update on `Patient?identifier=<resident id>,<EMPI id>` — a token list
 *    is an OR, so the match is on the ID number, or on the EMPI id when the ID number is new (a corrected number
 *    must update the record it corrects, not fork it). Without an ID number the key is the EMPI id alone.
 *    More than one match (two records already share the number, or the number is one record's and the EMPI id
 *    another's) fails the transaction with 412: that is a duplicate for a merge (PRPA_IN201304UV02), not something
 *    to resolve by guessing.
 * 3. Messages that only mention a patient (挂号, 预约, 医嘱) create a minimal Patient with the same key when none
 *    matches and otherwise leave the record alone, so a later registration updates that one.
 */
export function empiSystem(empiRoot: string): string {
  return oidSystem(empiRoot);
}

/** The search part (`identifier=…`) of the EMPI rule's match for this patient, or undefined with no usable id. */
export function patientMatch(patient: Patient, empiRoot: string): string | undefined {
  const ids = patient.identifier ?? [];
  const keys = [
    ids.find((i) => i.system === RESIDENT_ID_SYSTEM && i.value),
    ids.find((i) => i.system === empiSystem(empiRoot) && i.value),
  ].filter((i): i is Identifier & { system: string; value: string } => i !== undefined);
  if (keys.length === 0) return undefined;
  return `identifier=${keys.map((k) => identifierToken(k.system, k.value)).join(',')}`;
}

/** The registration entry: conditional update under the EMPI rule. */
export function patientRegistrationEntry(patient: Patient, empiRoot: string): BundleEntry {
  return conditionalUpdate(patient, patientMatch(patient, empiRoot)!);
}

/** The entry for a patient a message only mentions, and the reference its other resources use. */
export function mentionedPatient(patient: Patient, empiRoot: string): { entry: BundleEntry; reference: Reference<Patient> } {
  const search = patientMatch(patient, empiRoot)!;
  const display = patient.name?.[0]?.text;
  return {
    entry: conditionalCreate(patient, search),
    reference: { reference: entryFullUrl(`Patient?${search}`), ...(display ? { display } : {}) },
  };
}
