import express from 'express';
import request from 'supertest';
import { loadConfig } from '../../../engine/config/config';
import { notifyRateLimit } from '../../../fhir-resources/auth/http-hardening';

/** The payment notification endpoints are rate-limited per client address, as main.ts mounts the limit. */
describe('the rate limit on payment notifications', () => {
  const app = () => {
    const a = express();
    a.use('/channels/:channelId/notify', notifyRateLimit(60_000, 3));
    a.post('/channels/:channelId/notify', (_req, res) => { res.sendStatus(200); });
    a.post('/channels/:channelId', (_req, res) => { res.sendStatus(202); });
    return a;
  };

  it('refuses the notification after the limit with 429 and a FAIL body the gateways retry on', async () => {
    const a = app();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(a).post('/channels/wechatpay/notify').send({})).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await request(a).post('/channels/alipay/notify').send({})).body).toEqual({ code: 'FAIL', message: expect.any(String) });
  });

  it('leaves the other channel endpoints alone', async () => {
    const a = app();
    for (let i = 0; i < 3; i++) await request(a).post('/channels/wechatpay/notify').send({});
    expect((await request(a).post('/channels/his-adt').send({})).status).toBe(202);
  });

  it('is configured per address, 600 a minute by default', () => {
    expect(loadConfig({}).http.notifyRateLimit).toEqual({ windowMs: 60000, max: 600 });
  });
});
