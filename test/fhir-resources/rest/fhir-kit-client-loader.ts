import type { Client } from 'fhir-kit-client';

type ImportEsm = (specifier: string) => Promise<unknown>;

/** fhir-kit-client 2 is ESM-only and exports `Client` by name; see esm-import-environment.ts for why this detour. */
export async function loadFhirKitClient(): Promise<typeof Client> {
  const importEsm = (globalThis as { importEsm?: ImportEsm }).importEsm;
  if (!importEsm) throw new Error('run this suite with `@jest-environment ./test/fhir-resources/rest/esm-import-environment.ts`');
  return ((await importEsm('fhir-kit-client')) as { Client: typeof Client }).Client;
}

/** The HTTP failure fhir-kit-client throws: `response.status` and the OperationOutcome in `response.data`. */
export async function failureOf(call: Promise<unknown>): Promise<{ status: number; data: any }> {
  try {
    await call;
  } catch (err) {
    const response = (err as { response?: { status: number; data: unknown } }).response;
    if (response) return response as { status: number; data: any };
    throw err;
  }
  throw new Error('expected the call to fail');
}
