import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { logCaptureFromEnv } from '../../engine/log-capture';
import { createLogger } from '../../engine/logger';
import { residentIdCheckDigit } from '../../fhir-resources/profiles/resident-id';
import { collectKnownPersonalData } from '../support/log-capture/known-personal-data';
import { findLeaks, scanCaptureDirectory } from '../support/log-capture/leak-scanner';

/*
 * The suite-wide log check (test/support/log-capture/): the product logger copies its lines into a capture directory,
 * and the scanner finds personal data left in clear there. The capture here is a directory of this test's own, so
 * that the deliberate leaks below do not fail the run's own check.
 */
describe('log capture and the log check', () => {
  let dir: string;
  const known = collectKnownPersonalData();
  const settle = () => new Promise((r) => setImmediate(r));

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-log-capture-test-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  const validId = (first17: string) => first17 + residentIdCheckDigit(first17);

  it('copies every line from the capture level into the directory while the output keeps its own level', async () => {
    const out: string[] = [];
    const stream = new PassThrough().on('data', (c: Buffer) => out.push(String(c)));
    const log = createLogger({ level: 'warn', stream, capture: { dir, source: 'test/engine/x.test.ts', level: 'debug' } });
    log.debug('cache warmed');
    log.warn('peer slow', { ms: 900 });
    await settle();
    const [file] = fs.readdirSync(dir);
    expect(file).toBe(`test_engine_x.test.ts.${process.pid}.jsonl`);
    const captured = fs.readFileSync(path.join(dir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(captured.map((l) => l.msg)).toEqual(['cache warmed', 'peer slow']);
    expect(out.join('').trim().split('\n').map((l) => JSON.parse(l).msg)).toEqual(['peer slow']);
  });

  it('is switched on by LINGSHU_LOG_CAPTURE and named after LINGSHU_LOG_CAPTURE_SOURCE', () => {
    expect(logCaptureFromEnv({})).toBeUndefined();
    expect(logCaptureFromEnv({ LINGSHU_LOG_CAPTURE: dir, LINGSHU_LOG_CAPTURE_SOURCE: 'test/a.test.ts' })).toEqual({ dir, source: 'test/a.test.ts', level: 'debug' });
  });

  it('flags the name of a test-data patient that a log line carries in free text, naming the file and line', async () => {
    const log = createLogger({ level: 'info', stream: new PassThrough(), capture: { dir, source: 'leaky.test.ts', level: 'info' } });
    log.info('registration received');
    log.info('挂号成功 王小明 内科门诊'); // no label, no field: the masker cannot know this is a name
    await settle();
    const { leaks } = scanCaptureDirectory(dir, known);
    expect(leaks).toEqual([expect.objectContaining({
      kind: 'name', value: '王小明', line: 2, source: 'leaky.test.ts', file: path.join(dir, `leaky.test.ts.${process.pid}.jsonl`),
    })]);
    expect(leaks[0].context).not.toContain('王小明');
  });

  it('flags a valid resident ID number and a mobile number in clear, and not the forms the logger writes', async () => {
    const id = validId('45010219900307123');
    const raw = `{"level":"warn","msg":"PID|1||${id}^^^^ID||||||||||13812345678"}`;
    expect(findLeaks(raw, known).map((l) => l.kind)).toEqual(['ID number', 'mobile number']);

    const log = createLogger({ level: 'info', stream: new PassThrough(), capture: { dir, source: 'masked.test.ts', level: 'info' } });
    log.warn(`PID|1||${id}^^^^ID||||||||||13812345678`, { phone: '+86 138 1234 5678', idNumber: id });
    await settle();
    const { lines, leaks } = scanCaptureDirectory(dir, known);
    expect(lines).toBe(1);
    expect(leaks).toEqual([]);
  });

  it('does not flag an 18-digit number that is not an ID (wrong check character) or a longer digit run', () => {
    const id = validId('45010219900307123');
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    expect(findLeaks(`order ${wrong} and ts 1${id} and 213812345678`, { names: new Set(), idNumbers: new Set() })).toEqual([]);
  });

  it('knows the people of the fixtures and the simulator seeds', () => {
    for (const name of ['王小明', '韦秀兰', '李梅', '张建国', 'WANG XIAO MING']) expect(known.names).toContain(name);
    expect(known.names).not.toContain('血常规');
    expect(known.names).not.toContain('桃源院区');
  });
});
