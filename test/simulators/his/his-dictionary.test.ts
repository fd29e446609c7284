import express from 'express';
import request from 'supertest';
import { hisPeer, HisPeer } from '../../../simulators/his/his-peer';

describe('HIS simulator dictionary view', () => {
  let peer: HisPeer;
  let control: express.Express;
  let view: string;

  const page = async (path: string) => (await (await fetch(`${view}${path}`)).json()) as { items: { code: string; updatedAt: string; price?: string; status: string }[]; nextCursor?: string };

  beforeAll(async () => {
    peer = hisPeer({ port: 0 });
    await peer.start();
    view = `${new URL(peer.url).origin}/api/dictionary`;
    control = express().use('/_sim/his', peer.control());
  });
  afterAll(() => peer?.stop());

  it('serves the whole 收费项目 table in cursor pages, each row once', async () => {
    const codes: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await page(`/charge-items?pageSize=4${cursor ? `&cursor=${cursor}` : ''}`);
      codes.push(...p.items.map((i) => i.code));
      cursor = p.nextCursor;
    } while (cursor);
    expect(codes).toHaveLength(peer.dictionary.chargeItems.size);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).toContain('250101001');
  });

  it('serves only rows updated since an instant: a new price and a 停用', async () => {
    const since = new Date().toISOString();
    await request(control).post('/_sim/his/dictionary/charge-items/210102015').send({ price: '75.00' }).expect(200);
    await request(control).post('/_sim/his/dictionary/drugs/Y0300112').send({ status: 'stopped' }).expect(200);
    expect((await page(`/charge-items?updatedSince=${encodeURIComponent(since)}`)).items).toMatchObject([{ code: '210102015', price: '75.00' }]);
    expect((await page(`/drugs?updatedSince=${encodeURIComponent(since)}`)).items).toMatchObject([{ code: 'Y0300112', status: 'stopped' }]);
  });

  it('answers 404 for a change to a row it does not have, and 400 for a page size out of range', async () => {
    await request(control).post('/_sim/his/dictionary/charge-items/999999999').send({ price: '1.00' }).expect(404);
    expect((await fetch(`${view}/charge-items?pageSize=0`)).status).toBe(400);
  });
});
