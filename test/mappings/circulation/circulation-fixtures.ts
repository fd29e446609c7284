import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MedicationRequest, Resource, Task } from '@medplum/fhirtypes';

const DIR = join(__dirname, '..', '..', 'fixtures', 'circulation');

export const json = <T = unknown>(name: string): T => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as T;

/** A paid prescription of two drugs (处方号 CF202611260031), its Task, Invoice, patient and two pharmacies. */
export function paidPrescription(): { task: Task; referenced: Record<string, Resource> } {
  return json('paid-prescription.json');
}

export function prescriptions(): MedicationRequest[] {
  const { referenced } = paidPrescription();
  return [referenced['MedicationRequest/mr-1'], referenced['MedicationRequest/mr-2']] as MedicationRequest[];
}

export const ROUTES = { 'TY-MZYF': 'platform', 'XH-DYF': 'api' } as const;
