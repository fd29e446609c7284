import { freePort } from '../engine/net/free-port';

const PEER_PORT = /^LINGSHU_SIM_[A-Z_]+_PORT$/;

/**
 * The environment with every simulated peer's port asked as "any free port" (LINGSHU_SIM_<PEER>_PORT=0, as tests and
 * benchmarks ask so as not to collide) replaced by a port free now. The demo hospital points its channels at the
 * peers' ports before the peers bind, so both must read the same number: with 0 the channels called port 0 and every
 * poll of the 医技预约 or pharmacy peers failed. A port taken by someone else in between makes that peer fail to start,
 * loudly, which is what a fixed port taken would do too.
 */
export async function withFreePeerPorts(env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  const out = { ...env };
  // freePort never gives one port twice in a process: each peer gets its own.
  for (const [key, value] of Object.entries(env)) {
    if (PEER_PORT.test(key) && value?.trim() === '0') out[key] = String(await freePort());
  }
  return out;
}
