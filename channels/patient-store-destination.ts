import { bundlePatientKey, fhirTransaction, type FhirTransactionOptions } from '../adapters/fhir/fhir-transaction-destination';
import type { DestinationDefinition } from '../engine/channel/channel';
import type { Repository } from '../fhir-resources/store/repository';

/**
 * The `fhir-store` destination of a channel whose messages are about patients (registrations, visits, orders,
 * results): one patient's messages written in arrival order, different patients' in parallel — enough of them in
 * flight (64: two groups of 32) for the destination's group commit to fill its transactions under load.
 */
export function patientStore(fhir: () => Repository, options: FhirTransactionOptions = {}): DestinationDefinition {
  return { name: 'fhir-store', connector: fhirTransaction(fhir, options), orderBy: bundlePatientKey, queue: { concurrency: 64 } };
}
