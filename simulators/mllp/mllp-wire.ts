/**
 * MLLP as the simulated peers speak it. Deliberately separate from adapters/mllp: simulators import nothing of the
 * product (ARCHITECTURE.md), so the tests check Lingshu against a second, independent implementation of the framing.
 */
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

export function frame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.of(VT), payload, Buffer.of(FS, CR)]);
}

/** Collects frames from a byte stream; bytes outside frames are counted, not kept. */
export class FrameReader {
  private buffer = Buffer.alloc(0);
  skipped = 0;

  push(chunk: Buffer): Buffer[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const start = this.buffer.indexOf(VT);
      if (start < 0) {
        this.skipped += this.buffer.length;
        this.buffer = Buffer.alloc(0);
        return frames;
      }
      const end = this.buffer.indexOf(Buffer.of(FS, CR), start + 1);
      if (end < 0) {
        this.skipped += start;
        this.buffer = this.buffer.subarray(start);
        return frames;
      }
      this.skipped += start;
      frames.push(Buffer.from(this.buffer.subarray(start + 1, end)));
      this.buffer = this.buffer.subarray(end + 2);
    }
  }
}
