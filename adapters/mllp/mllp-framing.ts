/**
 * MLLP framing (HL7 v2.5.1 Appendix C, "Minimal Lower Layer Protocol"): <VT> message <FS><CR>.
 * TCP delivers a byte stream, so one read may hold half a frame, several frames, or bytes that belong to none
 * (a sender that forgot the start block, a port scanner, a keep-alive probe); the decoder copes with all three.
 */
export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

export function encodeFrame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.of(START_BLOCK), payload, Buffer.of(END_BLOCK, CARRIAGE_RETURN)]);
}

export type FrameEvent =
  | { kind: 'frame'; payload: Buffer }
  /** Bytes outside any frame, dropped. `head` is at most the first 64 of them, for telling what they were. */
  | { kind: 'garbage'; length: number; head: Buffer }
  /** A frame longer than the limit: its body was dropped, `head` keeps its start so the NAK can name MSH-10. */
  | { kind: 'oversize'; length: number; head: Buffer };

const GARBAGE_HEAD = 64;

/**
 * Incremental decoder. Memory stays bounded by maxFrameBytes (+ headBytes for an oversize frame) whatever the
 * sender does: an oversize frame is skipped up to its end block instead of being buffered.
 */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private partsLength = 0;
  private inFrame = false;
  /** Inside an oversize frame: bytes counted, not kept beyond `head`. */
  private oversize: { length: number; head: Buffer } | undefined;
  /** The previous chunk ended with <FS> inside a frame; the next byte decides whether it was the end. */
  private pendingEnd = false;
  private garbage = 0;
  private garbageHead: Buffer[] = [];
  private garbageHeadLength = 0;

  constructor(private readonly maxFrameBytes: number, private readonly headBytes = 4096) {}

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(START_BLOCK, i);
        const stop = start < 0 ? chunk.length : start;
        if (stop > i) this.noteGarbage(chunk.subarray(i, stop));
        if (start < 0) break;
        this.flushGarbage(events);
        this.inFrame = true;
        i = start + 1;
        continue;
      }
      if (this.pendingEnd) {
        this.pendingEnd = false;
        if (chunk[i] === CARRIAGE_RETURN) {
          this.finishFrame(events);
          i += 1;
          continue;
        }
        // A lone <FS> inside the payload is data (some senders put binary in OBX-5): keep it.
        this.append(Buffer.of(END_BLOCK));
      }
      const end = chunk.indexOf(END_BLOCK, i);
      if (end < 0) {
        this.append(chunk.subarray(i));
        break;
      }
      this.append(chunk.subarray(i, end));
      if (end + 1 >= chunk.length) {
        this.pendingEnd = true;
        break;
      }
      if (chunk[end + 1] === CARRIAGE_RETURN) {
        this.finishFrame(events);
        i = end + 2;
      } else {
        this.append(chunk.subarray(end, end + 1));
        i = end + 1;
      }
    }
    return events;
  }

  /** Bytes held for an unfinished frame: what a connection that closes now would lose. */
  get buffered(): number {
    return this.oversize ? this.oversize.length : this.partsLength;
  }

  /**
   * Reports garbage not yet reported (it is otherwise reported when the next frame starts, so that one run of junk
   * is one event): at close, or at once by a sender that expects nothing but an ACK frame.
   */
  flush(): FrameEvent[] {
    const events: FrameEvent[] = [];
    this.flushGarbage(events);
    return events;
  }

  private append(bytes: Buffer): void {
    if (!bytes.length) return;
    if (this.oversize) {
      this.oversize.length += bytes.length;
      return;
    }
    if (this.partsLength + bytes.length > this.maxFrameBytes) {
      const held = Buffer.concat([...this.parts, bytes]);
      this.oversize = { length: held.length, head: Buffer.from(held.subarray(0, this.headBytes)) };
      this.parts = [];
      this.partsLength = 0;
      return;
    }
    this.parts.push(Buffer.from(bytes));
    this.partsLength += bytes.length;
  }

  private finishFrame(events: FrameEvent[]): void {
    if (this.oversize) events.push({ kind: 'oversize', ...this.oversize });
    else events.push({ kind: 'frame', payload: this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts) });
    this.parts = [];
    this.partsLength = 0;
    this.oversize = undefined;
    this.inFrame = false;
  }

  private noteGarbage(bytes: Buffer): void {
    this.garbage += bytes.length;
    if (this.garbageHeadLength < GARBAGE_HEAD) {
      const take = bytes.subarray(0, GARBAGE_HEAD - this.garbageHeadLength);
      this.garbageHead.push(Buffer.from(take));
      this.garbageHeadLength += take.length;
    }
  }

  private flushGarbage(events: FrameEvent[]): void {
    if (!this.garbage) return;
    events.push({ kind: 'garbage', length: this.garbage, head: Buffer.concat(this.garbageHead) });
    this.garbage = 0;
    this.garbageHead = [];
    this.garbageHeadLength = 0;
  }
}
