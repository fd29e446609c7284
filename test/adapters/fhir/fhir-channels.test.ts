import type { Bundle, Patient, ServiceRequest } from '@medplum/fhirtypes';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FhirEventMessage } from '../../../adapters/fhir/fhir-events-source';
import { eventually } from '../../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../../support/hospital-engine';

/** A mapped HL7 message as a channel's transformer hands it over: conditional on the hospital's identifier. */
function admission(mrn: string, name: string): Bundle {
  return {
    resourceType: 'Bundle', type: 'transaction',
    entry: [{
      fullUrl: 'urn:uuid:7d1b9a52-2c5e-4d7e-9a43-0b1f3c1e2a10',
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:oid:2.16.156.10011.1.11', value: mrn }], name: [{ text: name }], gender: 'female' },
      request: { method: 'PUT', url: `Patient?identifier=urn:oid:2.16.156.10011.1.11|${mrn}` },
    }],
  };
}

const CHANNELS = {
  'his-adt.yaml': `id: his-adt
source: { type: http }
transformer: passthrough
destinations:
  - { name: store, type: fhir-transaction, queue: { maxAttempts: 2, initialDelayMs: 100 } }
`,
  'orders-out.yaml': `id: orders-out
source: { type: fhir-events, events: [ServiceRequest.create, ServiceRequest.update] }
transformer: passthrough
destinations:
  - { name: row, type: table, table: orders_out }
`,
};

for (const stack of [{ name: 'SQLite + in-process bus', db: 'sqlite' as const, amqp: false }, { name: 'PostgreSQL + RabbitMQ', db: 'postgres' as const, amqp: true }]) {
  describe(`channels into and out of the FHIR store on ${stack.name}`, () => {
    let lingshu: HospitalEngine;
    let channelsDir: string;
    let base: string;

    beforeAll(async () => {
      channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-fhir-channels-'));
      for (const [file, text] of Object.entries(CHANNELS)) fs.writeFileSync(path.join(channelsDir, file), text);
      // No hospital channel is on by default: only the two YAML ones run.
      lingshu = await startHospitalEngine({ db: stack.db, amqp: stack.amqp, security: false, settings: { LINGSHU_PROFILE: 'production', LINGSHU_CHANNELS_DIR: channelsDir } });
      base = lingshu.base;
    });

    afterAll(async () => {
      await lingshu?.stop();
      fs.rmSync(channelsDir, { recursive: true, force: true });
    });

    it('writes a mapped transaction Bundle into the store, and the same message twice changes nothing', async () => {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/channels/his-adt`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(admission('MRN-7001', '李秀英')) });
        expect(res.status).toBe(202);
      }
      const patients = await eventually(async () => {
        const page = await lingshu.store().search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: 'eq' as never, value: 'urn:oid:2.16.156.10011.1.11|MRN-7001' }] });
        const sent = await lingshu.messages.search({ channel: 'his-adt', status: 'sent' });
        return sent.messages.length === 2 ? page : undefined;
      });
      expect(patients.resources).toHaveLength(1);
      expect((patients.resources[0] as Patient).name?.[0].text).toBe('李秀英');
    });

    it('records an invalid Bundle entry as the attempt error naming the FHIRPath, and writes nothing', async () => {
      const bad = admission('MRN-7002', '王芳');
      (bad.entry![0].resource as Patient).gender = 'x' as Patient['gender'];
      const res = await fetch(`${base}/channels/his-adt`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bad) });
      const { messageId } = (await res.json()) as { messageId: string };
      const message = await eventually(async () => {
        const m = await lingshu.messages.get(messageId);
        return m?.status === 'error' ? m : undefined;
      });
      expect(JSON.stringify(message)).toContain('Bundle.entry[0].resource.gender');
      const page = await lingshu.store().search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: 'eq' as never, value: 'urn:oid:2.16.156.10011.1.11|MRN-7002' }] });
      expect(page.resources).toHaveLength(0);
    });

    it('hands each ServiceRequest change to the outbound channel with the version it names, in order', async () => {
      const repo = lingshu.store().withContext({ correlationId: 'doctor-order-1' });
      const { resource: created } = await repo.create<ServiceRequest>({
        resourceType: 'ServiceRequest', status: 'draft', intent: 'order', code: { text: '血常规' }, subject: { reference: 'Patient/p1' },
      });
      await repo.update<ServiceRequest>({ ...created, status: 'active' });
      await repo.create<Patient>({ resourceType: 'Patient', name: [{ text: '不相关' }] });
      const rows = await eventually(async () => {
        const r = await lingshu.db('orders_out').select('content').orderBy('written_at');
        return r.length >= 2 ? r : undefined;
      });
      const messages = rows.map((r: { content: string }) => JSON.parse(r.content) as FhirEventMessage);
      expect(messages.map((m) => [m.event.action, m.resource?.meta?.versionId, (m.resource as ServiceRequest).status]))
        .toEqual([['create', '1', 'draft'], ['update', '2', 'active']]);
      expect(messages[0].event.correlationId).toBe('doctor-order-1');
    });
  });
}
