import { encodeFrame, FrameDecoder, FrameEvent } from '../../../adapters/mllp/mllp-framing';

const a = Buffer.from('MSH|^~\\&|LIS|桃源院区|||20251125||ORU^R01|A1|P|2.4\rOBX|1|NM|HGB^血红蛋白||98|g/L\r');
const b = Buffer.from('MSH|^~\\&|LIS|桃源院区|||20251125||ORU^R01|B2|P|2.4\r');
const frames = (events: FrameEvent[]) => events.filter((e) => e.kind === 'frame').map((e) => (e as { payload: Buffer }).payload.toString());

describe('MLLP frame decoder', () => {
  it('decodes two frames identically whatever byte boundary the stream is split at', () => {
    const stream = Buffer.concat([encodeFrame(a), encodeFrame(b)]);
    for (let i = 0; i <= stream.length; i++) {
      const d = new FrameDecoder(1024);
      const events = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))];
      expect(frames(events)).toEqual([a.toString(), b.toString()]);
      expect(events.some((e) => e.kind !== 'frame')).toBe(false);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const d = new FrameDecoder(1024);
    const stream = Buffer.concat([encodeFrame(a), encodeFrame(b), encodeFrame(a)]);
    const events = [...stream].flatMap((byte) => d.push(Buffer.of(byte)));
    expect(frames(events)).toEqual([a.toString(), b.toString(), a.toString()]);
  });

  it('reports bytes between frames as garbage and decodes the frames around them', () => {
    const d = new FrameDecoder(1024);
    const events = d.push(Buffer.concat([encodeFrame(a), Buffer.from('GET / HTTP/1.1\r\n'), encodeFrame(b)]));
    expect(events.map((e) => e.kind)).toEqual(['frame', 'garbage', 'frame']);
    expect(events[1]).toMatchObject({ kind: 'garbage', length: 16 });
  });

  it('keeps a lone end-block byte inside a payload as data', () => {
    const payload = Buffer.concat([Buffer.from('MSH|^~\\&|X\rOBX|1|ED|PDF||'), Buffer.of(0x1c, 0x41), Buffer.from('\r')]);
    expect(new FrameDecoder(1024).push(encodeFrame(payload))).toEqual([{ kind: 'frame', payload }]);
  });

  it('skips a frame over the limit, reporting its size and head, and decodes the next frame', () => {
    const big = Buffer.concat([b, Buffer.alloc(5000, 'x')]);
    const d = new FrameDecoder(1000, 100);
    const stream = Buffer.concat([encodeFrame(big), encodeFrame(a)]);
    const events = [stream.subarray(0, 700), stream.subarray(700, 3000), stream.subarray(3000)].flatMap((c) => d.push(c));
    expect(events.map((e) => e.kind)).toEqual(['oversize', 'frame']);
    expect(events[0]).toMatchObject({ kind: 'oversize', length: big.length });
    expect((events[0] as { head: Buffer }).head.toString()).toBe(big.subarray(0, 100).toString());
    expect(frames(events)).toEqual([a.toString()]);
  });
});
