import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { withDirectRoutes, type RoutedRequest } from '../../../engine/http/direct-routes';
import { securityHeaders } from '../../../fhir-resources/auth/http-hardening';

interface Seen { url?: string; baseUrl?: string; originalUrl?: string; ip?: string; protocol?: string }

/** A prefix served beside express: the URL it sees, the fields express would have set, the app's middleware. */
describe('direct routes', () => {
  let server: http.Server;
  let base: string;
  const app = express();
  app.set('trust proxy', 'loopback');
  app.get('/fhirish', (_req, res) => { res.json({ by: 'express' }); });
  app.use((_req, res) => { res.status(404).json({ by: 'express', found: false }); });
  const headers = securityHeaders(['https://h5.example.cn']);
  const echo = (req: RoutedRequest, res: http.ServerResponse): void => {
    const seen: Seen = { url: req.url, baseUrl: req.baseUrl, originalUrl: req.originalUrl, ip: req.ip, protocol: req.protocol };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
  };

  beforeAll(async () => {
    server = http.createServer(withDirectRoutes(app, [{ prefix: '/fhir', middleware: headers, handler: echo }]));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives the handler the URL below the prefix and the mount as express would', async () => {
    const res = await fetch(`${base}/fhir/Patient/abc?_elements=id`);
    expect(await res.json()).toEqual({
      url: '/Patient/abc?_elements=id', baseUrl: '/fhir', originalUrl: '/fhir/Patient/abc?_elements=id', ip: '127.0.0.1', protocol: 'http',
    });
    expect(((await (await fetch(`${base}/fhir`)).json()) as Seen).url).toBe('/');
    expect(((await (await fetch(`${base}/fhir?_count=1`)).json()) as Seen).url).toBe('/?_count=1');
  });

  it('leaves a path that only starts with the same letters to express', async () => {
    expect(await (await fetch(`${base}/fhirish`)).json()).toEqual({ by: 'express' });
    expect(await (await fetch(`${base}/fhirx/Patient`)).json()).toEqual({ by: 'express', found: false });
  });

  it('runs the same security headers and CORS as the app', async () => {
    const res = await fetch(`${base}/fhir/metadata`, { headers: { origin: 'https://h5.example.cn' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://h5.example.cn');
    const other = await fetch(`${base}/fhir/metadata`, { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // A CORS preflight is answered by the cors middleware; the handler never sees it.
    const preflight = await fetch(`${base}/fhir/Patient`, {
      method: 'OPTIONS', headers: { origin: 'https://h5.example.cn', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('takes the client address and scheme from a trusted proxy only, as express does', async () => {
    const res = await fetch(`${base}/fhir/Patient`, { headers: { 'x-forwarded-for': '10.8.0.7', 'x-forwarded-proto': 'https' } });
    expect(await res.json()).toMatchObject({ ip: '10.8.0.7', protocol: 'https' });

    const strict = express();
    const direct = http.createServer(withDirectRoutes(strict, [{ prefix: '/fhir', handler: echo }]));
    await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', resolve));
    try {
      const port = (direct.address() as AddressInfo).port;
      const untrusted = await fetch(`http://127.0.0.1:${port}/fhir/Patient`, { headers: { 'x-forwarded-for': '10.8.0.7', 'x-forwarded-proto': 'https' } });
      expect(await untrusted.json()).toMatchObject({ ip: '127.0.0.1', protocol: 'http' });
    } finally {
      await new Promise((resolve) => direct.close(resolve));
    }
  });
});
