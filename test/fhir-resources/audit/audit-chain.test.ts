import request from 'supertest';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { AUDIT_TABLE, AuditLog } from '../../../fhir-resources/audit/audit-log';
import { ALL_DATABASES } from '../../support/databases';
import { pgStatementsDuring } from '../../support/pg-statements';
import { startSecureFhir, type SecureFhirFixture } from '../auth/secure-fhir-fixture';

/*
 * The audit trail: an AuditEvent per interaction, a write's record committed with the write, a refused call recorded
 * after its rollback, hash-chained so that an edited or deleted record is found, and searchable only with the audit
 * function.
 */
describe.each(ALL_DATABASES)('audit trail on %s', (kind) => {
  let fx: SecureFhirFixture;
  let admin: string;
  beforeAll(async () => {
    fx = await startSecureFhir(kind);
    admin = await fx.token('admin', 'Practitioner/ADM');
  });
  afterAll(async () => { await fx?.close(); });

  const as = (token: string) => ({
    get: (path: string) => request(fx.app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`),
    post: (path: string, body: unknown) => request(fx.app).post(`/fhir/${path}`).set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
  });
  const rows = () => fx.db(AUDIT_TABLE).orderBy('seq');
  const auditEvent = (subtype: string): AuditEvent => ({
    resourceType: 'AuditEvent', type: { code: 'rest' }, subtype: [{ code: subtype }], action: 'E', recorded: new Date().toISOString(),
    agent: [{ who: { display: 'test' }, requestor: true }], source: { observer: { display: 'test' } },
  });

  it('records a create with who, what and the patient, and a read of it', async () => {
    const created = await as(admin).post('Patient', { resourceType: 'Patient', name: [{ family: '陈' }] });
    await as(admin).get(`Patient/${created.body.id}`);
    const last = (await rows()).slice(-2);
    expect(last.map((r) => [r.subtype, r.action, r.outcome, r.agent, r.entity])).toEqual([
      ['create', 'C', '0', 'Practitioner/ADM', `Patient/${created.body.id}`],
      ['read', 'R', '0', 'Practitioner/ADM', `Patient/${created.body.id}`],
    ]);
    expect(last[1].patients).toBe(`|Patient/${created.body.id}|`);
  });

  it('records create, update, patch and delete with their version, in the version\'s own statement on PostgreSQL', async () => {
    const writer = await fx.token('admin', 'Practitioner/ADM-WRITER');
    const pendingInserts: string[] = [];
    const chaining: string[] = [];
    const seen = (q: { sql: string }) => {
      if (/insert into .?fhir_audit_pending/i.test(q.sql)) pendingInserts.push(q.sql);
      if (/insert into .?fhir_audit_events/i.test(q.sql)) chaining.push(q.sql);
    };
    fx.db.on('query', seen);
    let id: string;
    let sent: string[] = [];
    const work = async () => {
      id = (await as(writer).post('Patient', { resourceType: 'Patient', name: [{ family: '吴' }] })).body.id;
      const put = await request(fx.app).put(`/fhir/Patient/${id}`).set('Authorization', `Bearer ${writer}`)
        .set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient', id, name: [{ family: '吴' }], gender: 'male' }));
      expect(put.status).toBe(200);
      const patch = await request(fx.app).patch(`/fhir/Patient/${id}`).set('Authorization', `Bearer ${writer}`)
        .set('Content-Type', 'application/json-patch+json').send(JSON.stringify([{ op: 'add', path: '/birthDate', value: '1970-01-01' }]));
      expect(patch.status).toBe(200);
      expect((await request(fx.app).delete(`/fhir/Patient/${id}`).set('Authorization', `Bearer ${writer}`)).status).toBe(200);
    };
    try {
      // On PostgreSQL the store's named statements bypass knex's query events: the driver's traffic is watched.
      if (kind === 'postgres') sent = await pgStatementsDuring(work);
      else await work();
    } finally {
      fx.db.off('query', seen);
    }
    // PostgreSQL writes each record in the statement of the version it describes; MariaDB inserts it after the
    // version, in the same transaction (SQLite too, through prepared statements that knex does not report).
    if (kind === 'postgres') {
      expect(pendingInserts).toEqual([]);
      // Each record rides in its version's statement, none alone.
      const pendingRows = sent.filter((sql) => /insert into fhir_audit_pending/i.test(sql));
      expect(pendingRows).toHaveLength(4);
      expect(pendingRows.every((sql) => /^WITH v AS \((INSERT INTO|UPDATE) fhir_resources/.test(sql))).toBe(true);
      // Sealed without a transaction: a snapshot of head and pending records, then one statement for records,
      // pending rows and head, gated on the head it read.
      const sealing = sent.filter((sql) => /fhir_audit_(events|head)/i.test(sql));
      expect(sealing.length).toBeGreaterThan(0);
      expect(sealing.every((sql) => /^SELECT h\.seq, h\.hash, p\.id/.test(sql) || /^WITH h AS \(UPDATE fhir_audit_head .* WHERE id = 1 AND seq = \$3 AND hash = \$4/s.test(sql))).toBe(true);
      expect(chaining).toEqual([]);
    }
    if (kind === 'mysql') expect(pendingInserts).toHaveLength(4);
    const last = (await rows()).slice(-4);
    expect(last.every((r) => r.agent === 'Practitioner/ADM-WRITER')).toBe(true);
    expect(last.map((r) => [r.subtype, r.action, r.outcome, r.entity])).toEqual([
      ['create', 'C', '0', `Patient/${id!}`], ['update', 'U', '0', `Patient/${id!}`], ['patch', 'U', '0', `Patient/${id!}`], ['delete', 'D', '0', `Patient/${id!}`],
    ]);
    expect(last.slice(0, 3).map((r) => r.patients)).toEqual(Array(3).fill(`|Patient/${id!}|`));
    expect(await fx.db('fhir_audit_pending').count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  // SQLite's writers are serialised anyway and MariaDB seals under the head's row lock.
  (kind === 'postgres' ? it : it.skip)('seals on PostgreSQL without a lock: a sealer that moves the head in between makes it read again, and the chain stays whole', async () => {
    const other = new AuditLog(fx.db);
    let interloped = false;
    const sent = await pgStatementsDuring(
      () => fx.audit.append([auditEvent('ours')]),
      async (sql) => {
        if (interloped || !/^WITH h AS \(UPDATE fhir_audit_head/.test(sql)) return;
        interloped = true;
        await other.append([auditEvent('theirs')]);
      },
    );
    expect(interloped).toBe(true);
    // Ours lost the compare-and-set (from the head it remembered or read), read the head and won: three gated writes
    // in all (ours twice, theirs once), and after the loss a snapshot of ours besides theirs.
    expect(sent.filter((sql) => /^WITH h AS \(UPDATE fhir_audit_head/.test(sql))).toHaveLength(3);
    expect(sent.filter((sql) => /^SELECT h\.seq/.test(sql)).length).toBeGreaterThanOrEqual(2);
    const last = (await rows()).slice(-2);
    expect(last.map((r) => r.subtype)).toEqual(['theirs', 'ours']);
    expect(Number(last[1].seq)).toBe(Number(last[0].seq) + 1);
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  (kind === 'postgres' ? it : it.skip)('chains a read\'s record in one statement from the head it left, and still reads the head for a writer\'s records', async () => {
    await fx.audit.append([auditEvent('first')]);
    const reads = await pgStatementsDuring(async () => {
      await fx.audit.append([auditEvent('second')]);
      await fx.audit.append([auditEvent('third')]);
    });
    expect(reads.filter((sql) => /fhir_audit_/.test(sql)).map((sql) => sql.slice(0, 30))).toEqual(Array(2).fill('WITH h AS (UPDATE fhir_audit_h'));
    // A writer's records wait in the pending table: its seal reads them with the head.
    const created = await as(await fx.token('admin', 'Practitioner/ADM-SEALER')).post('Patient', { resourceType: 'Patient', name: [{ family: '周' }] });
    expect(created.status).toBe(201);
    const last = (await rows()).slice(-3);
    expect(last.map((r) => r.subtype)).toEqual(['second', 'third', 'create']);
    expect(await fx.db('fhir_audit_pending').count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  (kind === 'postgres' ? it : it.skip)('seals a create in one statement: the store hands back the pending record\'s id, so the seal need not look for it', async () => {
    const writer = await fx.token('admin', 'Practitioner/ADM-ONE');
    await fx.audit.append([auditEvent('warm')]);
    let id = '';
    const sent = await pgStatementsDuring(async () => {
      id = (await as(writer).post('Patient', { resourceType: 'Patient', name: [{ family: '郑' }] })).body.id;
    });
    const audit = sent.filter((sql) => /fhir_audit_/.test(sql));
    expect(audit.map((sql) => sql.slice(0, 30))).toEqual(['WITH v AS (INSERT INTO fhir_re', 'WITH h AS (UPDATE fhir_audit_h']);
    const last = (await rows()).slice(-1)[0];
    expect([last.subtype, last.entity]).toEqual(['create', `Patient/${id}`]);
    expect(await fx.db('fhir_audit_pending').count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  (kind === 'postgres' ? it : it.skip)('does not chain twice a pending record that another sealer chained first', async () => {
    const record = fx.audit.pendingRows([auditEvent('chained-once')]);
    const [{ id }] = await fx.db('fhir_audit_pending').insert({ content: record.values[0][0] }).returning('id');
    await new AuditLog(fx.db).seal();
    // This log learns the head after the other's seal, then is told of the record as a writer would tell it.
    await fx.audit.append([auditEvent('after')]);
    await fx.audit.seal([{ ...record, returned: [{ id, content: record.values[0][0] }] }]);
    expect((await rows()).filter((r) => r.subtype === 'chained-once')).toHaveLength(1);
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  it('records a refused write as a failure and no success for it', async () => {
    const patient = await fx.token('patient', 'Patient/nobody');
    const res = await as(patient).post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/other' } });
    expect(res.status).toBe(403);
    const last = (await rows()).slice(-1)[0];
    expect([last.subtype, last.outcome, last.agent]).toEqual(['create', '4', 'Patient/nobody']);
    expect(await fx.db('fhir_resources').where({ resource_type: 'Observation' }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
  });

  it('finds the chain intact after ordinary use', async () => {
    expect(await fx.audit.verifyChain()).toMatchObject({ intact: true });
  });

  it('lets the audit function search the trail and refuses everyone else', async () => {
    const auditor = await fx.token('operator', undefined, ['auditor']);
    const found = await as(auditor).get('AuditEvent?agent=Practitioner/ADM&action=C');
    expect(found.status).toBe(200);
    expect((found.body as Bundle<AuditEvent>).entry?.map((e) => e.resource?.subtype?.[0].code)).toEqual(['create']);
    expect((await as(await fx.token('operator')).get('AuditEvent')).status).toBe(403);
    expect((await as(await fx.token('doctor', 'Practitioner/D')).get('AuditEvent')).status).toBe(403);
    expect((await as(admin).post('AuditEvent', { resourceType: 'AuditEvent' })).status).toBe(403);
  });

  it('detects a record edited in the database', async () => {
    const all = await rows();
    const victim = all[Math.floor(all.length / 2)];
    const edited = { ...JSON.parse(victim.content), outcome: '0', outcomeDesc: 'nothing happened' };
    await fx.db(AUDIT_TABLE).where({ seq: victim.seq }).update({ content: JSON.stringify(edited) });
    const check = await fx.audit.verifyChain();
    expect(check.intact).toBe(false);
    expect(check.broken?.seq).toBe(Number(victim.seq));
    await fx.db(AUDIT_TABLE).where({ seq: victim.seq }).update({ content: victim.content });
  });

  it('detects a record deleted from the database', async () => {
    const all = await rows();
    const victim = all[1];
    await fx.db(AUDIT_TABLE).where({ seq: victim.seq }).delete();
    const check = await fx.audit.verifyChain();
    expect(check).toMatchObject({ intact: false, broken: { seq: Number(victim.seq) } });
    await fx.db(AUDIT_TABLE).insert(victim);
    expect((await fx.audit.verifyChain()).intact).toBe(true);
  });

  it('prunes past the retention period without breaking the chain', async () => {
    const log = new AuditLog(fx.db);
    const before = (await rows()).length;
    const removed = await log.prune(1, Date.now() + 2 * 86_400_000);
    expect(removed).toBe(before);
    await as(admin).get('Patient');
    expect(await log.verifyChain()).toMatchObject({ intact: true, checked: 1 });
  });
});
