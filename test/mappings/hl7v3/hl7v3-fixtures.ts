import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, OperationOutcome, Patient, ServiceRequest } from '@medplum/fhirtypes';
import type { InboundContext, OutboundContext } from '../../../mappings/hl7v3';

const DIR = join(__dirname, '..', '..', 'fixtures', 'hl7v3');

export const fixture = (name: string): string => readFileSync(join(DIR, name), 'utf8');
export const json = <T = unknown>(name: string): T => JSON.parse(fixture(name)) as T;

/** This hospital's HIS 病人ID is the master index (see mappings/hl7v3/mapping-context.ts). */
export const inbound: InboundContext = { empiRoot: '2.16.156.10011.2.5.1.4' };

export const outbound: OutboundContext = {
  ...inbound,
  messageId: 'c0ffee00-1234-4abc-8def-000000000001',
  creationTime: '2026-11-26T01:02:03Z',
  senderDevice: 'LINGSHU',
  receiverDevice: 'HIS',
};

export function asBundle(result: Bundle | OperationOutcome): Bundle {
  if (result.resourceType !== 'Bundle') throw new Error(`expected a Bundle, got ${JSON.stringify(result.issue)}`);
  return result;
}

/** The Patient of the full registration sample, as the inbound mapping produces it. */
export const registeredPatient = (): Patient => json<Bundle>('prpa-in201311uv02-register-full.bundle.json').entry![0].resource as Patient;

export const applicationRequests = (): ServiceRequest[] =>
  json<Bundle>('poor-in200901uv-lab-application.bundle.json').entry!.slice(1).map((e) => e.resource as ServiceRequest);
