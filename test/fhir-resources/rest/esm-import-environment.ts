import { TestEnvironment } from 'jest-environment-node';
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';

/**
 * Jest's module system runs CommonJS only (ESM needs --experimental-vm-modules for the whole run), and ts-jest turns
 * `await import()` into `require()`, so an ESM-only package such as fhir-kit-client cannot be loaded from a test.
 * This environment hands the tests Node's own dynamic import, which runs outside the test's module registry.
 * Use with the docblock `@jest-environment ./test/fhir-resources/rest/esm-import-environment.ts`.
 */
// A Function body is not rewritten by the TypeScript compiler, so this stays a real dynamic import.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

export default class EsmImportEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    this.global.importEsm = nativeImport;
  }
}
