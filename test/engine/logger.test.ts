import { PassThrough } from 'node:stream';
import { createLogger, childLogger } from '../../engine/logger';

function capture(level = 'info') {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const log = createLogger({ level, stream });
  // winston writes through streams asynchronously; a macrotask later every line has arrived.
  const lines = async (): Promise<Record<string, any>[]> => {
    await new Promise((r) => setImmediate(r));
    return chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  return { log, lines, raw: () => chunks.join('') };
}

const SECRETS = ['450102199003071234', '13812345678', '张三', '欧阳娜娜', '李四'];

describe('logger', () => {
  it('writes one JSON line per entry with time, level, msg and meta, masking message and meta', async () => {
    const { log, lines, raw } = capture();
    const ch = childLogger({ channel: 'adt-in', correlationId: 'corr-42' }, log);
    ch.info('received PID|1||450102199003071234||张^三||19900307 from 13812345678', {
      messageId: 'm-1',
      patient: { name: '欧阳娜娜', phone: '+8613812345678' },
      doctorName: '李四',
      orderNo: '20240307123456789012',
    });
    const [line] = await lines();
    expect(line).toMatchObject({
      level: 'info',
      channel: 'adt-in',
      correlationId: 'corr-42',
      messageId: 'm-1',
      patient: { name: '欧***', phone: '+86138****5678' },
      doctorName: '李*',
      orderNo: '20240307123456789012',
    });
    expect(new Date(line.time).toISOString()).toBe(line.time);
    expect(line.msg).toBe('received PID|1||4501**********1234||张^*||19900307 from 138****5678');
    for (const s of SECRETS) expect(raw()).not.toContain(s);
  });

  it('respects the level', async () => {
    const { log, lines } = capture('warn');
    log.info('hidden');
    log.warn('shown');
    expect((await lines()).map((l) => l.msg)).toEqual(['shown']);
  });

  it('serialises errors in meta without stack at info, with stack at debug', async () => {
    const info = capture('info');
    const err = Object.assign(new Error('lookup failed for 450102199003071234'), { code: 'E_LOOKUP' });
    info.log.error('lookup', { err, correlationId: 'c1' });
    info.log.error(new Error('bare error 13812345678'));
    const [a, b] = await info.lines();
    expect(a.err).toEqual({ message: 'lookup failed for 4501**********1234', code: 'E_LOOKUP' });
    expect(a.correlationId).toBe('c1');
    expect(b.msg).toBe('bare error 138****5678');
    expect(b.error).toEqual({ message: 'bare error 138****5678' });
    expect(info.raw()).not.toContain('"stack"');

    const debug = capture('debug');
    debug.log.warn('failed', new Error('boom 患者：张三'));
    const [c] = await debug.lines();
    expect(c.msg).toBe('failed boom 患者：张*'); // winston appends the error message
    expect(c.error.message).toBe('boom 患者：张*');
    expect(c.error.stack).toContain('患者：张*');
    expect(c.error.stack).toContain('logger.test.ts');
    expect(debug.raw()).not.toContain('张三');
  });

  it('reads the default level from LINGSHU_LOG_LEVEL', async () => {
    const before = process.env.LINGSHU_LOG_LEVEL;
    process.env.LINGSHU_LOG_LEVEL = 'debug';
    try {
      expect(createLogger({ stream: new PassThrough() }).level).toBe('debug');
      process.env.LINGSHU_LOG_LEVEL = 'nonsense';
      expect(createLogger({ stream: new PassThrough() }).level).toBe('info');
    } finally {
      if (before === undefined) delete process.env.LINGSHU_LOG_LEVEL;
      else process.env.LINGSHU_LOG_LEVEL = before;
    }
  });
});
