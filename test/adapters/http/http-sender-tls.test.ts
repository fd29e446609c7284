import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { httpSender, HttpSenderOptions } from '../../../adapters/http/http-sender';
import type { OutboundMessage } from '../../../engine/channel/channel';

/**
 * A peer that authenticates Lingshu by certificate (医保 and regulator gateways do): an HTTPS server that requires a
 * client certificate issued by its CA. The CA, server and client keys are made for this run in a temp dir.
 */
describe('HTTP sender with a TLS client certificate', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-http-mtls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  let server: https.Server;
  let url: string;
  const seenClients: string[] = [];

  const message: OutboundMessage = { messageId: 'm-1', channelId: 'insurance', destination: 'gateway', correlationId: 'RX001', content: '{"处方号":"RX001"}', attempt: 1 };

  async function sendWith(options: Partial<HttpSenderOptions>) {
    const sender = httpSender({ url, timeoutMs: 5000, ...options });
    await sender.start!();
    try {
      return await sender.send(message);
    } finally {
      await sender.stop!();
    }
  }

  /** A key and a certificate for `cn` signed by the test CA. */
  function issue(name: string, cn: string, extensions: string) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    fs.writeFileSync(file(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`));
  }

  beforeAll(async () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=Lingshu Test Provincial CA',
      '-keyout', file('ca.key'), '-out', file('ca.crt'));
    issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    issue('client', 'lingshu-h33010600001', 'extendedKeyUsage=clientAuth\n');
    // A certificate the gateway's CA never issued: self-signed, with its own key.
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lingshu-h33010600001',
      '-keyout', file('stranger.key'), '-out', file('stranger.crt'));

    server = https.createServer({
      key: fs.readFileSync(file('server.key')), cert: fs.readFileSync(file('server.crt')), ca: fs.readFileSync(file('ca.crt')),
      requestCert: true, rejectUnauthorized: true,
    }, (req, res) => {
      seenClients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
      req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"0","msg":"成功"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}/gateway`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is accepted by a peer that requires a client certificate when it presents one the peer\'s CA issued', async () => {
    const reply = await sendWith({ tls: { certFile: file('client.crt'), keyFile: file('client.key'), caFile: file('ca.crt') } });
    expect(reply.response).toBe('HTTP 200: {"code":"0","msg":"成功"}');
    expect(seenClients).toEqual(['lingshu-h33010600001']);
  });

  it('is refused by that peer without a client certificate, as an error and without a request reaching it', async () => {
    const before = seenClients.length;
    await expect(sendWith({ tls: { caFile: file('ca.crt') } })).rejects.toThrow(/^POST https:\/\/127\.0\.0\.1:\d+\/gateway: /);
    expect(seenClients).toHaveLength(before);
  });

  it('is refused by that peer with a certificate its CA did not issue', async () => {
    const before = seenClients.length;
    await expect(sendWith({ tls: { certFile: file('stranger.crt'), keyFile: file('stranger.key'), caFile: file('ca.crt') } })).rejects.toThrow(/gateway: /);
    expect(seenClients).toHaveLength(before);
  });

  it('refuses a peer whose certificate is not from the configured CA', async () => {
    // Without caFile the server's certificate is checked against the public roots, which never issued it.
    await expect(sendWith({ tls: { certFile: file('client.crt'), keyFile: file('client.key') } })).rejects.toThrow(/certificate/i);
  });
});
