import express from 'express';
import request from 'supertest';
import { DrugDatabasePeer, drugDatabasePeer } from '../../../simulators/drug-database/drug-database-peer';

const KEY = 'drug-db-test-key';

describe('drug database simulator', () => {
  let peer: DrugDatabasePeer;
  let control: express.Express;

  const api = async (path: string, key = KEY) => {
    const res = await fetch(`${peer.url}/api/v1${path}`, { headers: { 'x-api-key': key }, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as { code: number; message?: string; data: { total: number; records: { drugId: string; changedAt: string; deleted: boolean }[] } } };
  };

  beforeAll(async () => {
    peer = drugDatabasePeer({ port: 0, apiKeys: [KEY] });
    await peer.start();
    control = express().use('/_sim/drug-database', peer.control());
  });
  afterAll(() => peer?.stop());

  it('exports its ~30 drugs in pages by drugId, with specifications, makers and 批准文号', async () => {
    const first = await api('/drugs?page=1&pageSize=20');
    const second = await api('/drugs?page=2&pageSize=20');
    const ids = [...first.body.data.records, ...second.body.data.records].map((d) => d.drugId);
    expect(first.body.data.total).toBeGreaterThanOrEqual(30);
    expect(ids).toHaveLength(first.body.data.total);
    expect([...ids].sort()).toEqual(ids);
    expect(first.body.data.records.find((d) => d.drugId === 'DB0000117')).toMatchObject({
      productName: '阿莫西林胶囊', specification: '0.25g*24粒', approvalNo: expect.stringMatching(/^国药准字H\d{8}$/), manufacturer: expect.any(String),
    });
  });

  it('lists only what changed since an instant, a deletion included, and leaves a deleted drug out of the export', async () => {
    const since = new Date().toISOString();
    await request(control).post('/_sim/drug-database/drugs/DB0000208').send({ packUnit: '瓶' }).expect(200);
    await request(control).delete('/_sim/drug-database/drugs/DB0000331').expect(200);
    const changes = await api(`/drugs/changes?changedSince=${encodeURIComponent(since)}`);
    expect(changes.body.data.records.map((d) => [d.drugId, d.deleted])).toEqual([['DB0000208', false], ['DB0000331', true]]);
    const all = await api('/drugs?pageSize=200');
    expect(all.body.data.records.map((d) => d.drugId)).not.toContain('DB0000331');
  });

  it('refuses a call without its API key, and a changedSince it cannot read', async () => {
    expect(await api('/drugs', 'stolen')).toMatchObject({ status: 401, body: { message: '无效的 API Key' } });
    expect((await api('/drugs/changes?changedSince=yesterday')).status).toBe(400);
  });
});
