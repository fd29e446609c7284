import { parseHl7, parseHl7Batch } from '../../../mappings/hl7v2';

const msh = 'MSH|^~\\&|LIS|桃源院区|LINGSHU|桃源院区|20251125093015||ORU^R01|C1|P|2.4';

describe('HL7 v2 parser', () => {
  it('unescapes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ with the declared separators', () => {
    const [, obx] = parseHl7(`${msh}\rOBX|1|ST|X||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f`).segments;
    expect(obx.get(5)).toBe('a|b^c&d~e\\f');
  });

  it('reads \\Xhh\\ as UTF-8 bytes and \\.br\\ as a line break', () => {
    const [, obx] = parseHl7(`${msh}\rOBX|1|TX|X||\\XE6B7B7\\\\.br\\second line`).segments;
    expect(obx.repetitions(5)[0].text()).toBe('混\nsecond line');
  });

  it('keeps an unknown escape sequence as sent', () => {
    const [, obx] = parseHl7(`${msh}\rOBX|1|ST|X||C:\\Q\\dir`).segments;
    expect(obx.get(5)).toBe('C:\\Q\\dir');
  });

  it('splits repetitions, components and subcomponents', () => {
    const [, pid] = parseHl7(`${msh}\rPID|1||A1^^^H&1.2.3&ISO^PI~B2^^^CHN^NNCHN`).segments;
    expect(pid.repetitions(3).map((r) => r.get(1))).toEqual(['A1', 'B2']);
    expect(pid.get(3, 4, 2)).toBe('1.2.3');
    expect(pid.repetitions(3)[1].get(5)).toBe('NNCHN');
  });

  it('uses non-default encoding characters declared in MSH-1 and MSH-2', () => {
    const text = 'MSH#$*!@#LIS#H#LINGSHU#H#20251125##ORU$R01#C2#P#2.4\rPID#1##A1$$$H@X$PI*B2#\rOBX#1#ST#X##50!F!60 $ 7';
    const message = parseHl7(text);
    expect(message.separators).toEqual({ field: '#', component: '$', repetition: '*', escape: '!', subcomponent: '@' });
    const [head, pid, obx] = message.segments;
    expect(head.get(9, 2)).toBe('R01');
    expect(pid.repetitions(3).map((r) => r.get(1))).toEqual(['A1', 'B2']);
    expect(pid.get(3, 4, 2)).toBe('X');
    expect(obx.get(5)).toBe('50#60');
  });

  it.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('reads segments ended by %s', (_name, eol) => {
    const message = parseHl7([msh, 'PID|1||A1', 'OBX|1|NM|X||5'].join(eol) + eol);
    expect(message.segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'OBX']);
    expect(message.problems).toEqual([]);
  });

  it('keeps custom Z-segments with their fields', () => {
    const zpi = parseHl7(`${msh}\rZPI|1|自费|微信公众号预约`).segments[1];
    expect([zpi.name, zpi.get(2), zpi.get(3)]).toEqual(['ZPI', '自费', '微信公众号预约']);
  });

  it('joins a raw line break inside a field to its segment instead of reading a new segment', () => {
    const message = parseHl7(`${msh}\rOBX|1|TX|X||双肺纹理清晰，\r右肺上叶见结节。||||||F`);
    expect(message.segments.map((s) => s.name)).toEqual(['MSH', 'OBX']);
    expect(message.segments[1].get(11)).toBe('F');
  });

  it('reads MSH-1 and MSH-2 as sent and the rest of MSH by field number', () => {
    const head = parseHl7(msh).segments[0];
    expect([head.get(1), head.get(2), head.get(3), head.get(10), head.get(12)]).toEqual(['|', '^~\\&', 'LIS', 'C1', '2.4']);
  });

  it('strips MLLP frame bytes and a BOM', () => {
    expect(parseHl7(`\x0b\uFEFF${msh}\rPID|1\r\x1c\r`).segments.map((s) => s.name)).toEqual(['MSH', 'PID']);
  });

  it('reports text that is not a message instead of throwing', () => {
    expect(parseHl7('hello').problems).toEqual([{ expression: 'MSH', diagnostics: expect.stringContaining("starts with 'hel'") }]);
  });

  it('reads a batch file into its messages', () => {
    const batch = ['FHS|^~\\&|X', 'BHS|^~\\&|X', msh, 'PID|1||A1', msh.replace('C1', 'C3'), 'PID|1||A2', 'BTS|2', 'FTS|1'].join('\r');
    expect(parseHl7Batch(batch).map((m) => m.segments[0].get(10))).toEqual(['C1', 'C3']);
    expect(parseHl7(batch).problems).not.toEqual([]);
  });

  it.each(['2.3', '2.3.1', '2.4', '2.5', '2.5.1'])('reads version %s headers alike', (version) => {
    expect(parseHl7(msh.replace('|2.4', `|${version}`)).segments[0].get(12)).toBe(version);
  });
});
