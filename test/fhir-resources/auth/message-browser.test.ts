import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '@medplum/fhirtypes';
import request from 'supertest';
import { httpSender } from '../../../adapters/http/http-sender';
import { httpSource } from '../../../adapters/http/http-source';
import { adapterRegistry } from '../../../adapters/registry';
import { channel } from '../../../engine/channel/channel';
import { loadConfig } from '../../../engine/config/config';
import { RunningServer, startServer } from '../../../engine/server';
import { AUDIT_TABLE } from '../../../fhir-resources/audit/audit-log';
import { startSecurity } from '../../../fhir-resources/auth/security-module';
import { createTestDatabase, TestDatabase } from '../../support/databases';
import { eventually } from '../../support/engine-server';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

/*
 * The engine's message browser behind the security module, as main.ts wires it: integration engineers see message
 * content with patient identifiers masked; a break-glass holder sees it unmasked on request, and each such view is an
 * AuditEvent; reprocess always sends what was received.
 */
const ADT = fs.readFileSync(path.join(__dirname, '../../fixtures/hl7v2/adt-a01-utf8.hl7'), 'utf8');
const ID_NUMBER = '110101199003074514';

describe('the message browser with patient identifiers masked', () => {
  const peer = new ScriptedHttpPeer();
  let database: TestDatabase;
  let server: RunningServer;
  let base: string;
  let channelsDir: string;
  let messageId: string;

  const token = async (body: object) => (await request(base).post('/auth/demo/token').send(body).expect(200)).body.access_token as string;
  const audits = async (subtype: string): Promise<Array<{ outcome: string; entity: string; event: AuditEvent }>> =>
    (await server.db(AUDIT_TABLE).where({ subtype }).select('outcome', 'entity', 'content')).map((r) => ({ outcome: r.outcome, entity: r.entity, event: JSON.parse(r.content) }));

  beforeAll(async () => {
    await peer.listen();
    peer.script('/his', { status: 200, body: 'ok' });
    database = await createTestDatabase('sqlite');
    channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-browser-'));
    const config = loadConfig({ LINGSHU_PORT: '0', LINGSHU_DB: database.url, LINGSHU_CHANNELS_DIR: channelsDir, LINGSHU_PROFILE: 'demo' });
    server = await startServer({
      config,
      registry: adapterRegistry(),
      channels: () => [channel({ id: 'adt-in', source: httpSource(), destinations: [{ name: 'his', connector: httpSender({ url: `http://127.0.0.1:${peer.port}/his`, contentType: 'text/plain; charset=utf-8' }) }] })],
      mount: async (app, { db }) => {
        const security = await startSecurity(config, db);
        app.use('/auth', security.authRoutes);
        app.use('/api', security.opsGuard);
        return { stop: async () => security.stop() };
      },
    });
    base = `http://127.0.0.1:${server.port}`;
    const res = await request(base).post('/channels/adt-in').set('Content-Type', 'text/plain; charset=utf-8').send(ADT).expect(202);
    messageId = res.body.messageId as string;
    await eventually(() => peer.received('/his').length === 1);
  });
  afterAll(async () => {
    await server?.stop();
    await peer.close();
    await database?.drop();
    fs.rmSync(channelsDir, { recursive: true, force: true });
  });

  it('shows an engineer the message with the ID number, phone and names masked', async () => {
    const engineer = await token({ role: 'engineer' });
    const m = (await request(base).get(`/api/messages/${messageId}`).set('Authorization', `Bearer ${engineer}`).expect(200)).body;
    expect(m.contentMasked).toBe(true);
    expect(m.raw).toContain('1101**********4514^^^CHN^NNCHN||王**^');
    expect(m.raw).toContain('138****8000');
    for (const secret of [ID_NUMBER, '王小明', 'WANG XIAO MING', '13800138000', '刘芳', '李建国']) expect(JSON.stringify(m)).not.toContain(secret);
  });

  it('finds the message when an engineer searches the content by ID number, and lists no content', async () => {
    const engineer = await token({ role: 'engineer' });
    const listed = (await request(base).get('/api/messages').query({ q: ID_NUMBER }).set('Authorization', `Bearer ${engineer}`).expect(200)).body;
    expect(listed.messages.map((x: { id: string }) => x.id)).toEqual([messageId]);
    expect(JSON.stringify(listed)).not.toContain('王');
    const searches = (await server.db(AUDIT_TABLE).where({ subtype: 'read', entity: '/api/messages' }).select('content')).map((r) => JSON.parse(r.content) as AuditEvent);
    expect(searches.some((e) => Buffer.from(e.entity?.[0]?.query ?? '', 'base64').toString('utf8') === `q=${ID_NUMBER}`)).toBe(true);
  });

  it('refuses an unmasked view to an engineer without the break-glass function, and audits the refusal', async () => {
    const engineer = await token({ role: 'engineer', subject: 'engineer-wang' });
    await request(base).get(`/api/messages/${messageId}`).query({ view: 'raw' }).set('Authorization', `Bearer ${engineer}`).expect(403);
    const refused = (await audits('read')).filter((a) => a.outcome === '4' && a.event.agent?.[0]?.who?.display === 'engineer-wang');
    expect(refused).toHaveLength(1);
    expect(refused[0].event.purposeOfEvent?.[0]?.coding?.[0]?.code).toBe('BTG');
  });

  it('shows a break-glass holder the message as received on request and records an AuditEvent for it', async () => {
    const glass = await token({ role: 'engineer', subject: 'engineer-li', functions: ['break-glass'] });
    expect(await audits('break-glass')).toHaveLength(0);
    const masked = (await request(base).get(`/api/messages/${messageId}`).set('Authorization', `Bearer ${glass}`).expect(200)).body;
    expect(masked.raw).not.toContain(ID_NUMBER);
    expect(await audits('break-glass')).toHaveLength(0);

    const m = (await request(base).get(`/api/messages/${messageId}`).query({ view: 'raw' }).set('Authorization', `Bearer ${glass}`).expect(200)).body;
    expect(m.raw).toBe(ADT);
    expect(m.contentMasked).toBe(false);
    const recorded = await audits('break-glass');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ outcome: '0', entity: `/api/messages/${messageId}` });
    expect(recorded[0].event).toMatchObject({
      action: 'R',
      agent: [expect.objectContaining({ who: { display: 'engineer-li' } })],
      purposeOfEvent: [{ coding: [expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' })] }],
    });
  });

  it('sends the content as received when an engineer who sees it masked reprocesses the message', async () => {
    const engineer = await token({ role: 'engineer' });
    await request(base).post(`/api/messages/${messageId}/reprocess`).set('Authorization', `Bearer ${engineer}`).send({}).expect(202);
    await eventually(() => peer.received('/his').length === 2);
    expect(peer.received('/his')[1].body).toBe(ADT);
  });
});
