import net from 'node:net';
import tls from 'node:tls';
import { frame, FrameReader } from './mllp-wire';

export interface MllpClientOptions {
  host: string;
  port: number;
  tls?: tls.ConnectionOptions;
}

/** A sending peer's connection: writes frames (or raw bytes, to misbehave on purpose) and reads the replies. */
export class MllpClient {
  private readonly reader = new FrameReader();
  private readonly replies: Buffer[] = [];
  private readonly waiting: { n: number; resolve(r: Buffer[]): void; reject(e: Error): void }[] = [];
  private closedError?: Error;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.replies.push(...this.reader.push(chunk));
      this.serve();
    });
    const closed = (err?: Error) => {
      this.closedError = err ?? new Error('connection closed');
      for (const w of this.waiting.splice(0)) w.reject(this.closedError);
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  static connect(o: MllpClientOptions): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = o.tls ? tls.connect({ host: o.host, port: o.port, ...o.tls }) : net.connect({ host: o.host, port: o.port });
      socket.once('error', reject);
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new MllpClient(socket));
      });
    });
  }

  /** Sends one message and waits for its reply frame. */
  async send(payload: Buffer): Promise<Buffer> {
    this.write(frame(payload));
    return (await this.next(1))[0];
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next `n` reply frames, in arrival order. */
  next(n: number): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ n, resolve, reject });
      this.serve();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private serve(): void {
    while (this.waiting.length && this.replies.length >= this.waiting[0].n) {
      const w = this.waiting.shift()!;
      w.resolve(this.replies.splice(0, w.n));
    }
    if (this.closedError) for (const w of this.waiting.splice(0)) w.reject(this.closedError);
  }
}
