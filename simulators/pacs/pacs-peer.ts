import type { SimulatedPeer } from '../peer';
import { buildOru } from '../mllp/oru-message';
import { resultSenderPeer, ResultSenderConfig } from '../mllp/result-sender-peer';

/** 影像科 PACS/RIS: 胸部CT平扫 reports (检查所见 / 诊断意见 as TX observations) as ORU^R01. */
export function pacsPeer(config: ResultSenderConfig): SimulatedPeer {
  return resultSenderPeer({
    name: 'pacs',
    description: '影像科 PACS/RIS: sends exam reports (ORU^R01, 检查所见 / 诊断意见) over MLLP, takes exam orders on its MLLP port',
    application: 'PACS',
    build(controlId, patient, _request, msh18) {
      return buildOru({
        sendingApplication: 'PACS', sendingFacility: '桃源院区影像科', receivingFacility: '桃源院区', controlId, msh18, patient,
        department: 'HXK^^^桃源院区^^^^^呼吸内科门诊', doctor: '5120^孙伟',
        order: { placer: `E${controlId}`, filler: `CT${controlId}`, code: 'CT-CHEST', name: '胸部CT平扫', section: 'CT' },
        observations: [
          { valueType: 'TX', code: 'FINDINGS', name: '检查所见', value: '双肺纹理清晰，右肺上叶尖段见一直径约4mm磨玻璃结节，边界清。纵隔内未见肿大淋巴结。' },
          { valueType: 'TX', code: 'IMPRESSION', name: '诊断意见', value: '右肺上叶微小磨玻璃结节，建议12个月后复查胸部CT。' },
        ],
      });
    },
  }, config);
}
