import { maskText, maskValue } from '../../engine/log-masking';

describe('maskText: identity numbers', () => {
  it('masks an 18-digit resident ID, keeping the first and last four', () => {
    expect(maskText('身份证 450102199003071234 已登记')).toBe('身份证 4501**********1234 已登记');
  });

  it('masks an ID ending in the X check digit (either case)', () => {
    expect(maskText('id=11010519491231002X')).toBe('id=1101**********002X');
    expect(maskText('id=11010519491231002x.')).toBe('id=1101**********002x.');
  });

  it('masks a 15-digit old-style ID', () => {
    expect(maskText('旧证号:450102900307123')).toBe('旧证号:4501*******7123');
  });

  it('masks an ID in an HL7 PID-3 component', () => {
    expect(maskText('PID|1||450102199003071234^^^&2.16.156.10011.1.3&ISO^ID')).toContain('|4501**********1234^^^');
  });

  it('leaves longer digit runs alone (order numbers, timestamps)', () => {
    const order = '20240307123456789012';
    expect(maskText(`order ${order} done`)).toBe(`order ${order} done`);
    expect(maskText('ts=1709769600123456789')).toBe('ts=1709769600123456789');
    expect(maskText('seq 4501021990030712345')).toBe('seq 4501021990030712345');
  });

  it('does not read an 18-digit number without a birth date as an ID', () => {
    expect(maskText('snowflake 123456789012345678')).toBe('snowflake 123456789012345678');
  });
});

describe('maskText: mobile numbers', () => {
  it('masks a plain mobile number', () => {
    expect(maskText('电话13800000000')).toBe('电话138****0000');
    expect(maskText('tel: 15912345678,')).toBe('tel: 159****5678,');
  });

  it('masks +86 / 86 prefixed numbers and keeps the prefix', () => {
    expect(maskText('+8613812345678')).toBe('+86138****5678');
    expect(maskText('+86 138 1234 5678')).toBe('+86 138 **** 5678');
    expect(maskText('call 8613812345678')).toBe('call 86138****5678');
    expect(maskText('138-1234-5678')).toBe('138-****-5678');
  });

  it('leaves 11-digit runs inside longer numbers and non-mobile prefixes alone', () => {
    expect(maskText('no 913812345678')).toBe('no 913812345678');
    expect(maskText('no 12812345678')).toBe('no 12812345678');
  });
});

describe('maskText: names in free text', () => {
  it('masks Chinese components of HL7 PID-5 (component form and single component)', () => {
    const seg = 'PID|1||P001^^^HIS^PI||张^三||19900307|M';
    expect(maskText(seg)).toBe('PID|1||P001^^^HIS^PI||张^*||19900307|M');
    expect(maskText('PID|1||P001||欧阳娜娜^^^^||19900307|F')).toBe('PID|1||P001||欧***^^^^||19900307|F');
  });

  it('masks names across a whole message: NK1-2, PV1-7 (XCN keeps the staff code), ORC-12, OBR-16', () => {
    const msg = [
      'MSH|^~\\&|HIS|H|LIS|H|20240307120000||ORM^O01|MSG001|P|2.5',
      'PID|1||P001||王小明||19900307|M|||||13800000000',
      'NK1|1|王^大明|FTH',
      'PV1|1|I|W01^101^1||||D001^李^四^^^^|||',
      'ORC|NW|O1||||||||||D002^赵六',
      'OBR|1|O1||CBC^血常规||||||||||||D003^钱^七七',
    ].join('\r');
    const out = maskText(msg);
    expect(out).toContain('PID|1||P001||王**||19900307|M|||||138****0000');
    expect(out).toContain('NK1|1|王^**|FTH');
    expect(out).toContain('PV1|1|I|W01^101^1||||D001^李^*^^^^|||');
    expect(out).toContain('ORC|NW|O1||||||||||D002^赵*');
    expect(out).toContain('OBR|1|O1||CBC^血常规||||||||||||D003^钱^**');
    expect(out).toContain('MSH|^~\\&|HIS|H|LIS|H|20240307120000||ORM^O01|MSG001|P|2.5');
  });

  it('masks segments of a message that was JSON-escaped into the text', () => {
    const text = JSON.stringify({ raw: 'MSH|^~\\&|A|B\rPID|1||P1||张三^^^^||19900307' });
    expect(text).toContain('\\r');
    expect(maskText(text)).toContain('PID|1||P1||张*^^^^||19900307');
  });

  it('does not touch code fields that happen to hold Chinese (OBR-4)', () => {
    expect(maskText('OBR|1|O1||CBC^血常规')).toBe('OBR|1|O1||CBC^血常规');
  });

  it('masks names after labels', () => {
    expect(maskText('姓名：张三，性别：男')).toBe('姓名：张*，性别：男');
    expect(maskText('患者:欧阳娜娜 入院')).toBe('患者:欧*** 入院');
    expect(maskText('病人 李四 已出院')).toBe('病人 李* 已出院');
    expect(maskText('申请医生=王五')).toBe('申请医生=王*');
    expect(maskText('打开患者列表')).toBe('打开患者列表');
  });

  it('masks "name" fragments of JSON inside a string', () => {
    expect(maskText('body={"id":"P1","name":"张三","gender":"male"}')).toBe('body={"id":"P1","name":"张*","gender":"male"}');
    expect(maskText('{"patientName": "欧阳娜娜"}')).toBe('{"patientName": "欧***"}');
    expect(maskText('{"name":[{"use":"official","text":"张三","family":"张","given":["三"]}]}'))
      .toBe('{"name":[{"use":"official","text":"张*","family":"张","given":["*"]}]}');
    expect(maskText('{"channelName":"adt-in"}')).toBe('{"channelName":"adt-in"}');
  });

  it('keeps plain UTF-8 Chinese text without names intact', () => {
    const s = '检验结果已发送至临床科室，共 3 条';
    expect(maskText(s)).toBe(s);
  });
});

describe('maskValue', () => {
  it('masks values of name keys, case-insensitively, and leaves non-strings alone', () => {
    const out = maskValue({
      name: '张三', PatientName: '欧阳娜娜', doctor_name: '李四', 姓名: '王五', familyName: '赵', givenName: '六',
      age: 34, active: true, nothing: null, when: new Date(0),
    });
    expect(out).toEqual({
      name: '张*', PatientName: '欧***', doctor_name: '李*', 姓名: '王*', familyName: '赵', givenName: '*',
      age: 34, active: true, nothing: null, when: new Date(0),
    });
  });

  it('masks a FHIR HumanName deeply, including text, family and given arrays', () => {
    const patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:2.16.156.10011.1.3', value: '450102199003071234' }],
      name: [{ use: 'official', text: '张三丰', family: '张', given: ['三丰'] }],
      telecom: [{ system: 'phone', value: '+86 138 1234 5678' }],
    };
    expect(maskValue(patient)).toEqual({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:2.16.156.10011.1.3', value: '4501**********1234' }],
      name: [{ use: 'official', text: '张**', family: '张', given: ['**'] }],
      telecom: [{ system: 'phone', value: '+86 138 **** 5678' }],
    });
    expect(patient.name[0].text).toBe('张三丰'); // input untouched
  });

  it('masks free-text strings anywhere in the structure', () => {
    expect(maskValue(['PID|1||P1||张^三', { note: '联系人：李四 13912345678' }]))
      .toEqual(['PID|1||P1||张^*', { note: '联系人：李* 139****5678' }]);
  });

  it('treats role keys holding objects as records, not names', () => {
    expect(maskValue({ 患者: { id: 'P001', 姓名: '张三' } })).toEqual({ 患者: { id: 'P001', 姓名: '张*' } });
  });

  it('survives cycles and turns errors into plain objects', () => {
    const a: Record<string, unknown> = { name: '张三' };
    a.self = a;
    expect(maskValue(a)).toEqual({ name: '张*', self: '[Circular]' });
    const err = maskValue(new TypeError('patient 450102199003071234 not found')) as Record<string, unknown>;
    expect(err.name).toBe('TypeError');
    expect(err.message).toBe('patient 4501**********1234 not found');
  });
});

describe('maskValue: addresses', () => {
  it('masks a home address under an address key, keeping the district', () => {
    expect(maskValue({ address: '浙江省杭州市西湖区北山街道栖霞岭路18号3幢201室', 家庭住址: '广西壮族自治区南宁市青秀区民族大道136号' }))
      .toEqual({ address: '浙江省杭州市****', 家庭住址: '广西壮族自治****' });
  });

  it('leaves network and e-mail addresses readable', () => {
    const meta = { address: '0.0.0.0:2575', remoteAddress: '127.0.0.1', ipAddress: '::1', emailAddress: 'his@example.cn', serverAddr: 'his.local:8080' };
    expect(maskValue(meta)).toEqual(meta);
  });
});
