import net from 'node:net';
import { frame, FrameReader } from './mllp-wire';

/** What a receiving peer does with one message: answer with bytes (framed for it), say nothing, or send raw bytes. */
export type MllpAnswer = { reply: Buffer } | { raw: Buffer } | { silence: true } | { close: true };

export interface MllpServer {
  port: number;
  close(): Promise<void>;
}

/** A receiving peer: one handler call per frame, answers written in order. */
export async function startMllpServer(port: number, handle: (payload: Buffer) => MllpAnswer | Promise<MllpAnswer>, host = '127.0.0.1'): Promise<MllpServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const reader = new FrameReader();
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const payload of reader.push(chunk)) {
        chain = chain.then(async () => {
          const answer = await handle(payload);
          if (socket.destroyed) return;
          if ('reply' in answer) socket.write(frame(answer.reply));
          else if ('raw' in answer) socket.write(answer.raw);
          else if ('close' in answer) socket.destroy();
        }).catch(() => {
          socket.destroy();
        });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
