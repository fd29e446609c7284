import type { SimulatedPeer } from '../peer';
import { buildOru } from '../mllp/oru-message';
import { resultSenderPeer, ResultSenderConfig } from '../mllp/result-sender-peer';

/** 生殖中心 LIS, a second laboratory system with its own codes: 性激素六项 + AMH as ORU^R01 (v2.4 framing, MSH-3 RLIS). */
export function reproLisPeer(config: ResultSenderConfig): SimulatedPeer {
  return resultSenderPeer({
    name: 'repro-lis',
    description: '生殖中心 LIS: sends 性激素六项 / AMH results (ORU^R01) over MLLP, takes orders on its MLLP port',
    application: 'RLIS',
    build(controlId, patient, _request, msh18) {
      return buildOru({
        sendingApplication: 'RLIS', sendingFacility: '星湖门诊生殖中心', receivingFacility: '星湖门诊', controlId, msh18,
        patient: { ...patient, sex: 'F' },
        department: 'SZZX^^^星湖门诊^^^^^生殖医学中心', doctor: '4410^黄蕾',
        order: { placer: `O${controlId}`, filler: `R${controlId}`, code: 'SEX6', name: '性激素六项', specimen: '血清', section: 'CH' },
        observations: [
          { valueType: 'NM', code: 'FSH', name: '卵泡刺激素', value: '7.8', unit: 'mIU/mL', range: '3.5-12.5', flag: 'N' },
          { valueType: 'NM', code: 'LH', name: '黄体生成素', value: '5.2', unit: 'mIU/mL', range: '2.4-12.6', flag: 'N' },
          { valueType: 'NM', code: 'E2', name: '雌二醇', value: '42', unit: 'pg/mL', range: '12.5-166', flag: 'N' },
          { valueType: 'NM', code: 'PRL', name: '泌乳素', value: '31.6', unit: 'ng/mL', range: '4.79-23.3', flag: 'H' },
          { valueType: 'NM', code: 'P', name: '孕酮', value: '0.4', unit: 'ng/mL', range: '0.2-1.5', flag: 'N' },
          { valueType: 'NM', code: 'T', name: '睾酮', value: '0.35', unit: 'ng/mL', range: '0.08-0.48', flag: 'N' },
          { valueType: 'NM', code: 'AMH', name: '抗缪勒管激素', value: '2.86', unit: 'ng/mL', range: '1.22-11.7', flag: 'N' },
        ],
      });
    },
  }, config);
}
