import type { Knex } from 'knex';
import { adapterRegistry } from '../../../adapters/registry';
import { channelFromYaml } from '../../../engine/channel/yaml-channel-loader';

const base = { db: undefined as unknown as Knex };
const yaml = (source: string) => `id: lis-in\nsource: ${source}\ndestinations:\n  - { name: his, type: mllp, host: his.example.invalid, port: 2575, charset: gb18030 }\n`;

describe('MLLP connectors in YAML channels', () => {
  it('builds a channel with an mllp source and an mllp destination', () => {
    const def = channelFromYaml(yaml('{ type: mllp, port: 2575, charset: auto, ackTiming: after-store, ackMode: enhanced }'), 'lis-in.yaml', adapterRegistry(), base);
    expect(def.source.type).toBe('mllp');
    expect(def.destinations[0].connector.type).toBe('mllp');
  });

  it('names the field when a charset is unknown', () => {
    expect(() => channelFromYaml(yaml('{ type: mllp, port: 2575, charset: klingon }'), 'lis-in.yaml', adapterRegistry(), base))
      .toThrow(/lis-in\.yaml: channel lis-in: source\.charset: an iconv-lite charset name/);
  });
});
