import { getResourceTypes, getSearchParameters } from '@medplum/core';
import type {
  CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam, ResourceType,
} from '@medplum/fhirtypes';
import { loadR4Definitions } from '../definitions';
import type { Operation } from '../operations/operation';
import { OperationRegistry } from '../operations/operation-registry';

/*
 * What this server really does, for clients that read /metadata before they call (fhirclient, fhir-kit-client's
 * CapabilityTool). Every interaction listed here has a route in interaction-dispatch.ts and a test in
 * test/fhir-resources/rest/.
 */

const TYPE_INTERACTIONS: CapabilityStatementRestResource['interaction'] = [
  'read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type',
].map((code) => ({ code: code as NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'] }));

/** Medplum-specific parameters that are not part of R4. */
const NOT_R4 = new Set(['_compartment']);

function searchParamsOf(type: ResourceType): CapabilityStatementRestResourceSearchParam[] {
  return Object.entries(getSearchParameters(type) ?? {})
    .filter(([name]) => !NOT_R4.has(name))
    .map(([name, sp]) => ({
      name,
      // The common parameters (_id, _lastUpdated, …) come from @medplum/core without a url; R4 defines them on Resource.
      definition: sp.url ?? `http://hl7.org/fhir/SearchParameter/Resource-${name.slice(1)}`,
      type: sp.type,
    }));
}

function operationRef(op: Operation, baseUrl: string): CapabilityStatementRestResourceOperation {
  return { name: op.name, definition: op.url ?? `${baseUrl}/OperationDefinition/${op.name}` };
}

export function capabilityStatement(baseUrl: string, operations: OperationRegistry, software: { name: string; version?: string }): CapabilityStatement {
  loadR4Definitions();
  const ops = operations.all();
  const resource: CapabilityStatementRestResource[] = getResourceTypes().map((type) => {
    const typeOps = ops.filter((op) => OperationRegistry.applies(op, 'type', type) || OperationRegistry.applies(op, 'instance', type));
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: TYPE_INTERACTIONS,
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'not-supported',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchParam: searchParamsOf(type),
      ...(typeOps.length ? { operation: typeOps.map((op) => operationRef(op, baseUrl)) } : {}),
    };
  });
  const systemOps = ops.filter((op) => op.level === 'system');
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software,
    implementation: { description: 'Lingshu FHIR R4 server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      resource,
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
      ...(systemOps.length ? { operation: systemOps.map((op) => operationRef(op, baseUrl)) } : {}),
    }],
  };
}
