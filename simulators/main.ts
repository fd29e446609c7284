import { startSimulatorHost } from './host';
import { allPeers, simulatorConfig } from './peers';

/** `npm run simulators`: every simulated hospital peer in one process, configured from LINGSHU_SIM_* variables. */
async function main(): Promise<void> {
  const config = simulatorConfig();
  const host = await startSimulatorHost(allPeers(config), { port: config.port });
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'simulators started', control: `http://127.0.0.1:${host.port}/_sim/`, peers: host.peers })}\n`);
  const stop = () => {
    host.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`simulators did not start: ${(err as Error).message}\n`);
  process.exit(1);
});
