import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { httpSource } from '../../../adapters/http/http-source';
import { mllpListener, MllpListener } from '../../../adapters/mllp/mllp-listener';
import { mllpSender } from '../../../adapters/mllp/mllp-sender';
import { channel, DestinationConnector } from '../../../engine/channel/channel';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';
import { hl7Fixture } from '../../support/hl7-fixtures';

describe('MLLP over TLS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-mllp-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  let server: TestServer;
  const kept: string[] = [];
  const sink: DestinationConnector = { type: 'sink', send: async (m) => { kept.push(m.content); return {}; } };

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const listener: MllpListener = mllpListener({ port: 0, host: '127.0.0.1', tls: { certFile: cert, keyFile: key } });
    // The sender is built lazily: its port is the listener's, known once the engine has started it.
    const sender: DestinationConnector = { type: 'mllp', send: (m) => mllpSender({ host: '127.0.0.1', port: listener.port, tls: { caFile: cert } }).send(m) };
    server = await startTestServer(STACKS[0], () => [
      channel({ id: 'lis-in', source: listener, destinations: [{ name: 'keep', connector: sink }] }),
      channel({ id: 'relay', source: httpSource(), destinations: [{ name: 'lis', connector: sender, queue: { maxAttempts: 1 } }] }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('carries a message from the sender to the listener over TLS, verified against the listener certificate', async () => {
    const message = hl7Fixture('oru-repro-hormone-utf8.hl7').toString('utf8');
    const res = await request(server.base).post('/channels/relay').set('Content-Type', 'application/hl7-v2; charset=utf-8').send(message).expect(202);
    const relayed = await eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${res.body.messageId}`)).body;
      return m.status !== 'queued' && m.status !== 'received' && m;
    });
    expect(relayed.status).toBe('sent');
    expect(relayed.stages.find((s: { name: string }) => s.name === 'lis').response).toContain('MSA|AA|RLIS202511250012');
    // The listener acknowledges once the message is stored; its own channel delivers it to the sink after that.
    await eventually(() => kept.length > 0);
    expect(kept).toEqual([message]);
  });
});
