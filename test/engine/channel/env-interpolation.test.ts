import type { Knex } from 'knex';
import { adapterRegistry } from '../../../adapters/registry';
import { ChannelDefinitionError } from '../../../engine/channel/channel';
import { interpolateEnv } from '../../../engine/channel/env-interpolation';
import { channelFromYaml } from '../../../engine/channel/yaml-channel-loader';

const base = { db: undefined as unknown as Knex };

describe('environment references in channel YAML', () => {
  it('gives a whole-value reference the type its text reads as, and splices a partial one as text', () => {
    const env = { MLLP_PORT: '2600', HIS_HOST: 'his.hospital.local' };
    expect(interpolateEnv({ port: '${MLLP_PORT}', url: 'http://${HIS_HOST}:8080/ws', tls: '${TLS:-false}' }, env))
      .toEqual({ port: 2600, url: 'http://his.hospital.local:8080/ws', tls: false });
  });

  it('uses the default when the variable is unset', () => {
    expect(interpolateEnv({ nested: [{ port: '${UNSET_PORT:-2575}' }] }, {})).toEqual({ nested: [{ port: 2575 }] });
  });

  it('names file, channel and field when a variable is missing and has no default', () => {
    // Inside a flow map `{ … }` a reference must be quoted ("${X}"); in block style it can stand bare.
    const yaml = 'id: his-out\nsource: { type: http }\ndestinations:\n  - { name: out, type: table, table: "${LINGSHU_TEST_SURELY_UNSET_TABLE}" }\n';
    let err: unknown;
    try { channelFromYaml(yaml, 'his-out.yaml', adapterRegistry(), base); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ChannelDefinitionError);
    expect((err as Error).message).toContain('his-out.yaml');
    expect((err as Error).message).toContain('destinations[0].table');
    expect((err as Error).message).toContain('LINGSHU_TEST_SURELY_UNSET_TABLE');
  });
});
