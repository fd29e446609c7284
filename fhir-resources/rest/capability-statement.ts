import { getResourceTypes } from '@medplum/core';
import type {
  CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam, ResourceType,
} from '@medplum/fhirtypes';
import { loadR4Definitions } from '../definitions';
import type { Operation } from '../operations/operation';
import { OperationRegistry } from '../operations/operation-registry';
import { COLUMN_OPERATORS, executableParameters, SUPPORTED_OPERATORS } from '../search/filter-conditions';

/*
 * What this server really does, for clients that read /metadata before they call (fhirclient, fhir-kit-client's
 * CapabilityTool). Every interaction listed here has a route in interaction-dispatch.ts and a test in
 * test/fhir-resources/rest/; the search parameters, their modifiers and the includes are read from the search
 * module's own tables (search/filter-conditions.ts), so what is listed is what a search executes.
 */

type Interaction = NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'];

const interactions = (...codes: Interaction[]): CapabilityStatementRestResource['interaction'] => codes.map((code) => ({ code }));

const TYPE_INTERACTIONS = interactions('read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type');

/** With the security layer the audit trail is written by the server only and has no history (auth/access-policy.ts). */
const AUDIT_INTERACTIONS = interactions('read', 'search-type');

export interface CapabilityOptions {
  name: string;
  version?: string;
  /** The security layer is on: AuditEvent is the read-only audit trail. */
  auditTrail?: boolean;
}

const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/** The modifiers and prefixes a parameter takes, as markdown for `searchParam.documentation`. */
function usage(operators: readonly string[], chained: boolean): string {
  const prefixes = operators.filter((o) => PREFIXES.has(o) && o !== 'eq');
  const modifiers = operators.filter((o) => !PREFIXES.has(o)).map((o) => `:${o}`);
  const parts = [
    modifiers.length ? `Modifiers: ${modifiers.join(', ')}.` : '',
    prefixes.length ? `Prefixes: ${prefixes.join(', ')}.` : '',
    chained ? 'The target type as modifier (`param:Type=id`). Chaining one level (`param.name=`, `param:Type.name=`).' : '',
  ];
  return parts.filter(Boolean).join(' ');
}

function searchParamsOf(type: string): CapabilityStatementRestResourceSearchParam[] {
  const common: CapabilityStatementRestResourceSearchParam[] = [
    { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', documentation: usage(COLUMN_OPERATORS._id, false) },
    { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated', documentation: usage(COLUMN_OPERATORS._lastUpdated, false) },
  ];
  return [...common, ...executableParameters(type).map(({ code, param, kind }) => ({
    name: code,
    // The common parameters (_tag, _profile, …) come from @medplum/core without a url; R4 defines them on Resource.
    definition: param.url ?? `http://hl7.org/fhir/SearchParameter/Resource-${code.slice(1)}`,
    type: param.type,
    documentation: usage(SUPPORTED_OPERATORS[kind], kind === 'reference'),
  }))];
}

/** `Type:param` for each reference parameter (what includes.ts follows), and who points at each type. */
function includeTables(types: string[]): { include: Map<string, string[]>; revInclude: Map<string, string[]> } {
  const include = new Map<string, string[]>();
  const revInclude = new Map<string, string[]>(types.map((t) => [t, []]));
  for (const type of types) {
    const refs = executableParameters(type).filter((p) => p.kind === 'reference');
    include.set(type, refs.map((p) => `${type}:${p.code}`));
    for (const { code, param } of refs) {
      for (const target of param.target?.length ? param.target : types) revInclude.get(target)?.push(`${type}:${code}`);
    }
  }
  return { include, revInclude };
}

function operationRef(op: Operation, baseUrl: string): CapabilityStatementRestResourceOperation {
  return { name: op.name, definition: op.url ?? `${baseUrl}/OperationDefinition/${op.name}` };
}

export function capabilityStatement(baseUrl: string, operations: OperationRegistry, options: CapabilityOptions): CapabilityStatement {
  loadR4Definitions();
  const ops = operations.all();
  const types = getResourceTypes();
  const { include, revInclude } = includeTables(types);
  const resource: CapabilityStatementRestResource[] = types.map((type) => {
    const typeOps = ops.filter((op) => OperationRegistry.applies(op, 'type', type) || OperationRegistry.applies(op, 'instance', type));
    const auditTrail = options.auditTrail && type === 'AuditEvent';
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: auditTrail ? AUDIT_INTERACTIONS : TYPE_INTERACTIONS,
      ...(auditTrail ? { readHistory: false, updateCreate: false, conditionalCreate: false, conditionalUpdate: false, conditionalDelete: 'not-supported' as const } : {
        versioning: 'versioned-update' as const,
        readHistory: true,
        updateCreate: true,
        conditionalCreate: true,
        conditionalUpdate: true,
        conditionalDelete: 'single' as const,
      }),
      // If-None-Match on read answers 304 (resource-interactions.ts `read`); If-Modified-Since is not read.
      conditionalRead: 'not-match',
      searchInclude: include.get(type) ?? [],
      searchRevInclude: revInclude.get(type) ?? [],
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
    software: { name: options.name, ...(options.version ? { version: options.version } : {}) },
    implementation: { description: 'Lingshu FHIR R4 server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      documentation: [
        'Search: `_has:Type:reference:param=` (reverse chaining, one level) on every type;',
        '`_sort` (several keys, `-` descending), `_count`, `_include`, `_revinclude` (`:iterate` one more level), `_summary`, `_elements`, `_total`;',
        'cursor paging through `next` links. Compartment search: `GET Patient/{id}/{type}` for the types of the Patient compartment',
        '(not `Patient/{id}/*`). Token `:in` / `:not-in` take the url of a ValueSet stored here (expanded from its expansion or an',
        'enumerating compose) or shipped with the server (R4 and China value sets). Not supported: composite and special parameters,',
        '`_include=*`, `_text`, `_content`, `_filter`, token `:below`/`:above`/`:of-type`, reference `:identifier`, `:in` inside chains or `_has`.',
      ].join(' '),
      resource,
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
      compartment: ['http://hl7.org/fhir/CompartmentDefinition/patient'],
      ...(systemOps.length ? { operation: systemOps.map((op) => operationRef(op, baseUrl)) } : {}),
    }],
  };
}
