import type { Router } from 'express';

/**
 * One simulated hospital peer (HIS, LIS, WeChat Pay …). The simulator host (`npm run simulators`, or the demo
 * profile) starts every peer, mounts its control router at `/_sim/<name>/` on the control port
 * (LINGSHU_SIM_PORT, default 9100) and lists the peers and their ports at `GET /_sim/`.
 * Peers speak the real protocol on their own ports; the control routes let tests and the demo drive them
 * (send a message, pay an order, fail the next N calls) and read what they received.
 */
export interface SimulatedPeer {
  /** Short name, also the control path segment: `his`, `lis`, `wechatpay` … */
  readonly name: string;
  readonly description: string;
  /** Binds the peer's protocol ports (0 = any free port) and returns them by purpose, e.g. `{ mllp: 2576, soap: 9101 }`. */
  start(): Promise<Record<string, number>>;
  /** Control routes, mounted under `/_sim/<name>/`. */
  control(): Router;
  stop(): Promise<void>;
}
