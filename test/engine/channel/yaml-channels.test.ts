import request from 'supertest';
import fs from 'node:fs';
import path from 'node:path';
import { eventually, startTestServer, TestServer } from '../../support/engine-server';

const demo = fs.readFileSync(path.join(__dirname, '../../../config/channels/demo-echo.yaml'), 'utf8');
const badField = `id: bad-table
source: { type: http }
destinations:
  - name: out
    type: table
    table: "Robert'); DROP TABLE x"
`;
const unknownType = `id: no-such-type
source: { type: carrier-pigeon }
destinations: [{ name: out, type: table, table: t1 }]
`;

describe('channels declared in YAML', () => {
  let server: TestServer;
  let logged: string[] = [];
  const write = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    server = await startTestServer({ name: 'sqlite', db: 'sqlite', bus: 'in-process' }, () => [], {
      'demo-echo.yaml': demo, 'bad-table.yaml': badField, 'no-such-type.yaml': unknownType,
    });
    process.stdout.write = write;
  });
  afterAll(async () => server?.cleanup());

  it('names file, channel and field of an invalid definition', () => {
    const errors = logged.filter((l) => l.includes('invalid channel definition')).map((l) => JSON.parse(l));
    expect(errors).toHaveLength(2);
    const bad = errors.find((e) => e.channel === 'bad-table');
    expect(bad.file).toBe(path.join(server.channelsDir, 'bad-table.yaml'));
    expect(bad.field).toBe('destinations[0].table');
    const unknown = errors.find((e) => e.channel === 'no-such-type');
    expect(unknown.field).toBe('source.type');
    expect(unknown.error).toContain('carrier-pigeon');
  });

  it('keeps the valid channels running beside the invalid ones', async () => {
    const ids = (await request(server.base).get('/api/channels')).body.map((c: { id: string }) => c.id);
    expect(ids).toEqual(['demo-echo']);
    const res = await request(server.base).post('/channels/demo-echo').set('Content-Type', 'application/json').send({ msg: '你好' }).expect(202);
    const row = await eventually(() => server.db('demo_echo_out').where({ message_id: res.body.messageId }).first());
    expect(JSON.parse(row.content)).toEqual({ msg: '你好' });
  });

  it('refuses to deploy an edited file that became invalid, with the field named, and leaves the running version alone', async () => {
    fs.writeFileSync(path.join(server.channelsDir, 'demo-echo.yaml'), demo.replace('maxAttempts: 5', 'maxAttempts: 0'));
    const res = await request(server.base).post('/api/channels/demo-echo/deploy').expect(400);
    expect(res.body).toMatchObject({ channel: 'demo-echo', field: 'destinations[0].queue.maxAttempts' });
    expect(res.body.file).toContain('demo-echo.yaml');
    const list = (await request(server.base).get('/api/channels')).body;
    expect(list.find((c: { id: string }) => c.id === 'demo-echo').state).toBe('started');
  });

  it('undeploys and redeploys one channel without touching the others', async () => {
    fs.writeFileSync(path.join(server.channelsDir, 'demo-echo.yaml'), demo);
    await request(server.base).post('/api/channels/demo-echo/undeploy').expect(200);
    await request(server.base).post('/channels/demo-echo').send('x').expect(404);
    await request(server.base).post('/api/channels/demo-echo/deploy').expect(200);
    await request(server.base).post('/channels/demo-echo').send('x').expect(202);
  });
});
