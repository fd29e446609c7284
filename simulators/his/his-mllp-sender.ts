import { readAckWithLibrary, type ReceivedAck } from '../mllp/hl7-ack-reader';
import { MllpClient } from '../mllp/mllp-client';

export interface MllpTarget {
  host: string;
  port: number;
  /** How long to wait for the ACK before giving up on the connection (default 10 s). */
  ackTimeoutMs?: number;
}

export interface SentV2 {
  at: string;
  /** MSH-9, e.g. ADT^A04. */
  type: string;
  controlId: string;
  /** The ACK as a third-party reader sees it; absent when none came. */
  ack?: ReceivedAck;
  error?: string;
}

const KEEP_SENT = 200;

/**
 * The HIS's HL7 v2 interface: one MLLP connection to the receiver, kept open between messages and opened again after
 * a failure, one message at a time (what keeps each ACK matched to its message), each answered by an ACK that is read
 * and kept with what was sent.
 */
export class HisMllpSender {
  readonly sent: SentV2[] = [];
  private client?: MllpClient;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private target: MllpTarget) {}

  get where(): MllpTarget {
    return this.target;
  }

  retarget(target: MllpTarget): void {
    this.target = target;
    this.drop();
  }

  /** Sends one message (UTF-8, as MSH-18 says) and resolves with what came back; never rejects. */
  send(type: string, controlId: string, text: string): Promise<SentV2> {
    const run = this.queue.then(() => this.sendNow(type, controlId, text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.drop();
  }

  private async sendNow(type: string, controlId: string, text: string): Promise<SentV2> {
    const result: SentV2 = { at: new Date().toISOString(), type, controlId };
    let timer: NodeJS.Timeout | undefined;
    try {
      this.client ??= await MllpClient.connect({ host: this.target.host, port: this.target.port });
      const timeoutMs = this.target.ackTimeoutMs ?? 10_000;
      const reply = await Promise.race([
        this.client.send(Buffer.from(text, 'utf8')),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ACK within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
      result.ack = readAckWithLibrary(reply.toString('utf8'));
      if (!result.ack) result.error = 'reply is not an HL7 acknowledgement';
    } catch (err) {
      // A late ACK on this connection would be taken for the next message's: start again on a new one.
      this.drop();
      result.error = (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
    this.sent.push(result);
    if (this.sent.length > KEEP_SENT) this.sent.shift();
    return result;
  }

  private drop(): void {
    this.client?.close();
    this.client = undefined;
  }
}
