import type { OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Operation, OperationLevel } from '../operations/operation';
import type { Repository } from '../store/repository';
import type { OperationRegistry } from '../operations/operation-registry';
import type { Prefer } from './http-headers';

/**
 * One FHIR interaction, independent of HTTP: the router builds it from an express request and a batch or
 * transaction builds one per entry, so both go through the same code (and answer the same way).
 */
export interface FhirRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the FHIR base without leading slash, e.g. `Patient/1/_history/2`; '' for the base itself. */
  path: string;
  /** The query string as sent (no leading `?`); conditional interactions pass it to the repository unchanged. */
  rawQuery: string;
  query: Record<string, string | string[] | undefined>;
  /** Parsed body: a resource, a JSON Patch array, or form fields (POST _search). */
  body?: unknown;
  bodyKind?: 'fhir-json' | 'json-patch' | 'form';
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
  prefer: Prefer;
}

export interface FhirResponse {
  status: number;
  body?: Resource;
  etag?: string;
  lastModified?: string;
  location?: string;
  /** The interaction wrote this resource: `Prefer: return=` decides what the client gets back. */
  written?: boolean;
  /** What to answer under `Prefer: return=OperationOutcome`. */
  outcome?: OperationOutcome;
}

/**
 * Wraps an operation call (access check and audit, fhir-resources/auth); `repo` is the context's repository, which
 * inside a transaction Bundle is the transaction's.
 */
export type OperationGate = (
  repo: Repository, op: Operation, level: OperationLevel, type: ResourceType | undefined, id: string | undefined, run: () => Promise<Resource>,
) => Promise<Resource>;

export interface FhirContext {
  repo: Repository;
  /** Present when the router runs with security: every operation call goes through it. */
  operationGate?: OperationGate;
  /** Absolute FHIR base without trailing slash, e.g. `http://host:8080/fhir`. */
  baseUrl: string;
  operations: OperationRegistry;
  correlationId: string;
}
