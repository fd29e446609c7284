import type { Organization } from '@medplum/fhirtypes';
import { ORGANIZATION_TYPE, ORGANIZATION_TYPE_SYSTEM, PHARMACY_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import type { PharmacyRoute } from './circulation-order';

export interface PharmacyListing {
  name: string;
  via: PharmacyRoute;
  address?: string;
  phone?: string;
}

/** How the front end tells the two kinds apart when the patient picks one. */
const KIND: Record<PharmacyRoute, string> = { platform: '院内药房（处方流转平台）', api: '社会药房' };

/**
 * The configured pharmacies as the Organizations a patient chooses from (`GET /fhir/Organization?type=…|pharmacy`)
 * and a circulation Task names as owner, keyed by their code so that a restart rewrites them instead of adding more.
 */
export function pharmacyOrganizations(pharmacies: Record<string, PharmacyListing>): Organization[] {
  return Object.entries(pharmacies).sort(([a], [b]) => a.localeCompare(b)).map(([code, p]) => ({
    resourceType: 'Organization',
    identifier: [{ system: PHARMACY_CODE_SYSTEM, value: code }],
    active: true,
    type: [{ coding: [{ system: ORGANIZATION_TYPE_SYSTEM, code: ORGANIZATION_TYPE.pharmacy, display: '药房' }], text: KIND[p.via] }],
    name: p.name,
    ...(p.phone ? { telecom: [{ system: 'phone', value: p.phone, use: 'work' }] } : {}),
    ...(p.address ? { address: [{ text: p.address }] } : {}),
  }));
}
