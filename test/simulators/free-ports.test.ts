import net from 'node:net';
import { withFreePeerPorts } from '../../simulators/free-ports';

const bindable = (port: number) => new Promise<boolean>((resolve) => {
  const server = net.createServer().once('error', () => resolve(false));
  server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
});

describe('withFreePeerPorts', () => {
  it('gives each peer asked for any free port its own free port, and leaves everything else as it was', async () => {
    const env = await withFreePeerPorts({
      LINGSHU_SIM_MEDTECH_BOOKING_PORT: '0', LINGSHU_SIM_PHARMACY_PORT: ' 0 ', LINGSHU_SIM_HIS_PORT: '9101',
      LINGSHU_SIM_PORT: '0', LINGSHU_PORT: '0', LINGSHU_SIM_LIS_TARGET: '127.0.0.1:0',
    });
    const medtech = Number(env.LINGSHU_SIM_MEDTECH_BOOKING_PORT);
    const pharmacy = Number(env.LINGSHU_SIM_PHARMACY_PORT);
    expect(medtech).toBeGreaterThan(0);
    expect(pharmacy).toBeGreaterThan(0);
    expect(medtech).not.toBe(pharmacy);
    expect(await bindable(medtech)).toBe(true);
    expect(await bindable(pharmacy)).toBe(true);
    // The control port, Lingshu's own port and targets are not peers' ports: 0 keeps its meaning there.
    expect(env).toMatchObject({ LINGSHU_SIM_HIS_PORT: '9101', LINGSHU_SIM_PORT: '0', LINGSHU_PORT: '0', LINGSHU_SIM_LIS_TARGET: '127.0.0.1:0' });
  });
});
