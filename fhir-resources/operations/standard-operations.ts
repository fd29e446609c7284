import type { Operation } from './operation';
import { validateOperation } from './validate';

/** The FHIR-standard operations this server implements; the workflow operations are added beside them at start-up. */
export const standardOperations: readonly Operation[] = [validateOperation];
