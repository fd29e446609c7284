import fs from 'node:fs';
import path from 'node:path';
import { maskMessageContent, maskStoredMessage } from '../../../engine/message-masking/message-masking';
import type { StoredMessage } from '../../../engine/message-store/types';
import { collectKnownPersonalData } from '../../support/log-capture/known-personal-data';
import { findLeaks } from '../../support/log-capture/leak-scanner';

const FIXTURES = path.join(__dirname, '../../fixtures');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

describe('message content as the browser shows it to integration engineers', () => {
  it.each([
    ['an HL7 v2 ADT^A01', 'hl7v2/adt-a01-utf8.hl7', 'message-masking/adt-a01-utf8.masked.hl7'],
    ['an HL7 v3 patient registration', 'hl7v3/prpa-in201311uv02-register-full.xml', 'message-masking/prpa-in201311uv02-register-full.masked.xml'],
    ['a FHIR transaction bundle', 'hl7v2/adt-a01-utf8.bundle.json', 'message-masking/adt-a01-utf8.bundle.masked.json'],
    ['a SOAP body carrying escaped HL7 v3, CDATA and an HL7 v2 message', 'message-masking/soap-escaped-v3.xml', 'message-masking/soap-escaped-v3.masked.xml'],
    ['a pharmacy platform JSON order', 'message-masking/pharmacy-order.json', 'message-masking/pharmacy-order.masked.json'],
  ])('masks %s as in its golden fixture', (_what, input, expected) => {
    expect(maskMessageContent(fixture(input))).toBe(fixture(expected));
  });

  it('leaves no name, ID number or mobile of the test data in any fixture message', () => {
    const known = collectKnownPersonalData();
    const dirs = ['hl7v2', 'hl7v3', 'message-masking'];
    const leaks = dirs.flatMap((dir) => fs.readdirSync(path.join(FIXTURES, dir)).filter((f) => /\.(hl7|xml|json)$/.test(f)).flatMap((f) => {
      // Fixture comments describe the fixture (who orders what for whom); they are not message content.
      const content = fixture(`${dir}/${f}`).replace(/<!--[\s\S]*?-->/g, '');
      return findLeaks(maskMessageContent(content), known).map((l) => `${dir}/${f}: ${l.kind} ${l.masked}`);
    }));
    expect(leaks).toEqual([]);
  });

  it('keeps what an engineer reads a message by: ids of the hospital, order items, departments, organisations', () => {
    const masked = maskMessageContent(fixture('hl7v2/oru-cbc-utf8.hl7'));
    for (const kept of ['0003817265^^^TYHIS^PI', 'CBC^血常规^L', '血液科门诊', 'HGB^血红蛋白^L', '桃源院区']) expect(masked).toContain(kept);
    expect(maskMessageContent(fixture('message-masking/soap-escaped-v3.xml'))).toContain('<organization><name>星湖门诊</name></organization>');
  });

  it('masks a name in a field where the HIS put it out of place (ORC-13) without touching coded fields', () => {
    const orc = 'MSH|^~\\&|HIS|X|L|X|20251126||ORM^O01|1|P|2.4\rORC|NW|E1^HIS||E1^HIS|SC||^^^^^R|||20251126|||1024^李建国^^^^^^^^^^^^^主任医师\rOBR|1|E1^HIS||250101001^血常规|||||||||||BLD^血液|1024^李建国';
    const masked = maskMessageContent(orc);
    expect(masked).not.toContain('李建国');
    expect(masked).toContain('250101001^血常规');
    expect(masked).toContain('BLD^血液');
  });

  it('masks free text that is neither HL7, XML nor JSON with the log patterns', () => {
    expect(maskMessageContent('患者：张建国 身份证 330102196811300413 电话 13705712345')).toBe('患者：张** 身份证 3301**********0413 电话 137****2345');
  });

  it('does not throw on malformed XML or JSON and still masks the numbers in it', () => {
    expect(maskMessageContent(fixture('hl7v3/malformed-unclosed-tag.xml'))).toEqual(expect.any(String));
    expect(maskMessageContent('{"idCard": "330102196811300413", ')).toBe('{"idCard": "3301**********0413", ');
  });

  it('masks stage contents, responses and errors, and withholds binary content', () => {
    const stored: StoredMessage = {
      id: 'm1', channelId: 'c', correlationId: 'k', status: 'error', contentType: 'application/pdf', encoding: 'base64', raw: 'JVBERi0xLjQK',
      receivedAt: 0, updatedAt: 0, contentPruned: false,
      stages: [{ name: 'his', kind: 'destination', status: 'error', content: '{"patient":{"name":"张建国"}}', response: '<姓名>李梅</姓名>', error: '身份证 330102196811300413 重复', attempts: 1, updatedAt: 0 }],
      errors: [{ stage: 'his', attempt: 1, error: '手机 13705712345 无效', at: 0 }],
    };
    const masked = maskStoredMessage(stored);
    expect(masked.contentMasked).toBe(true);
    expect(masked.raw).not.toContain('JVBERi0');
    expect(masked.stages[0]).toMatchObject({ content: '{"patient":{"name":"张**"}}', response: '<姓名>李*</姓名>', error: '身份证 3301**********0413 重复' });
    expect(masked.errors[0].error).toBe('手机 137****2345 无效');
    expect(stored.stages[0].content).toBe('{"patient":{"name":"张建国"}}');
  });
});
