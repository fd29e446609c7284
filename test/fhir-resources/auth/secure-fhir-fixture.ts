import { randomBytes } from 'node:crypto';
import express from 'express';
import type { Knex } from 'knex';
import type { Patient } from '@medplum/fhirtypes';
import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { AuditLog } from '../../../fhir-resources/audit/audit-log';
import { AccessPolicy } from '../../../fhir-resources/auth/access-policy';
import { DemoTokenIssuer } from '../../../fhir-resources/auth/demo-token-issuer';
import { FhirSecurity } from '../../../fhir-resources/auth/fhir-security';
import { TokenVerifier, type TrustedIssuer } from '../../../fhir-resources/auth/token-verifier';
import { bindWechatOperation } from '../../../fhir-resources/operations/identity/bind-wechat';
import { integer, operation, optional, string } from '../../../fhir-resources/operations/operation';
import { validateOperation } from '../../../fhir-resources/operations/validate';
import { FieldCipher, type CipherName } from '../../../fhir-resources/privacy/field-cipher';
import { ProtectedFields } from '../../../fhir-resources/privacy/protected-fields';
import { fhirRouter } from '../../../fhir-resources/rest/fhir-router';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { createFhirStore, type FhirStore } from '../../../fhir-resources/store/fhir-store';
import type { KnexRepository } from '../../../fhir-resources/store/knex-repository';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

export const AUDIENCE = 'lingshu-test';

/** An instance operation that reads the patient through the caller's repository. */
export const cardOperation = operation({
  name: 'card',
  level: 'instance',
  resourceType: 'Patient',
  affectsState: false,
  parameters: {},
  output: { family: optional(string()) },
  async run(repo, _p, context) {
    const p = await repo.read<Patient>('Patient', context.id!);
    return { family: p.name?.[0]?.family };
  },
});

/** A system operation reserved to operators and admins. */
export const approveRefundOperation = operation({
  name: 'approve-refund',
  level: 'system',
  parameters: {},
  output: { approved: integer() },
  async run() {
    return { approved: 0 };
  },
});

export interface SecureFhirFixture {
  app: express.Express;
  db: Knex;
  /** The store without access control: for seeding, as the channels write. */
  repository: KnexRepository;
  audit: AuditLog;
  issuer: DemoTokenIssuer;
  token(role: string, subject?: string, functions?: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * The production stack (supertest drives the app): store with field encryption, audit log, token verification and the
 * router with security. `more.issuers`: identity providers trusted beside the demo issuer (an SM2-signing one).
 */
export async function startSecureFhir(kind: TestDatabase['name'], cipher: CipherName = 'aes-256-gcm', more: { issuers?: TrustedIssuer[] } = {}): Promise<SecureFhirFixture> {
  const database = await createTestDatabase(kind);
  const db = database.open();
  const bus = new InProcessBus(db, { pollMs: 10 });
  await bus.start();
  let store: FhirStore | undefined;
  try {
    const privacy = new ProtectedFields(new FieldCipher(randomBytes(32), cipher));
    store = await createFhirStore({ db, bus, searchIndex: new KnexSearchIndex({ codec: privacy, privacy }), codec: privacy });
    const audit = new AuditLog(db);
    await audit.migrate();
    const issuer = await DemoTokenIssuer.create(AUDIENCE);
    const security = new FhirSecurity({ audit, verifier: new TokenVerifier([issuer.trusted, ...(more.issuers ?? [])], AUDIENCE), masking: true, policy: new AccessPolicy() });
    const app = express();
    app.use('/fhir', fhirRouter({ repository: store.repository, operations: [validateOperation, bindWechatOperation, cardOperation, approveRefundOperation], security }));
    const started = store;
    return {
      app, db, repository: started.repository, audit, issuer,
      token: async (role, subject, functions) => (await issuer.issue({ role, subject, functions })).access_token,
      close: async () => {
        await started.relay.stop();
        await bus.close();
        await db.destroy();
        await database.drop();
      },
    };
  } catch (err) {
    await store?.relay.stop();
    await bus.close();
    await db.destroy();
    await database.drop();
    throw err;
  }
}
