import type { SimulatedPeer } from '../peer';
import { buildOru, SimObservation } from '../mllp/oru-message';
import { resultSenderPeer, ResultSenderConfig } from '../mllp/result-sender-peer';

type Row = [code: string, name: string, value: string, unit: string, range: string, flag: string];

const CBC: Row[] = [
  ['WBC', '白细胞计数', '6.52', '10*9/L', '3.5-9.5', 'N'],
  ['RBC', '红细胞计数', '3.62', '10*12/L', '4.3-5.8', 'L'],
  ['HGB', '血红蛋白', '98', 'g/L', '130-175', 'L'],
  ['HCT', '红细胞压积', '30.1', '%', '40-50', 'L'],
  ['MCV', '平均红细胞体积', '83.1', 'fL', '82-100', 'N'],
  ['MCH', '平均红细胞血红蛋白含量', '27.1', 'pg', '27-34', 'N'],
  ['MCHC', '平均红细胞血红蛋白浓度', '326', 'g/L', '316-354', 'N'],
  ['PLT', '血小板计数', '245', '10*9/L', '125-350', 'N'],
  ['NEUT%', '中性粒细胞百分比', '62.3', '%', '40-75', 'N'],
  ['LYMPH%', '淋巴细胞百分比', '28.4', '%', '20-50', 'N'],
];

const BIOCHEM: Row[] = [
  ['ALT', '丙氨酸氨基转移酶', '56', 'U/L', '9-50', 'H'],
  ['AST', '天门冬氨酸氨基转移酶', '38', 'U/L', '15-40', 'N'],
  ['CREA', '肌酐', '88', 'umol/L', '57-111', 'N'],
  ['UA', '尿酸', '462', 'umol/L', '208-428', 'H'],
  ['GLU', '葡萄糖', '6.3', 'mmol/L', '3.9-6.1', 'H'],
];

const numeric = (rows: Row[]): SimObservation[] => rows.map(([code, name, value, unit, range, flag]) => ({ valueType: 'NM', code, name, value, unit, range, flag }));

/** 检验科 LIS: 血常规 (CBC, variant 'cbc', the default) or 生化 (variant 'biochem') results as ORU^R01. */
export function lisPeer(config: ResultSenderConfig): SimulatedPeer {
  return resultSenderPeer({
    name: 'lis',
    description: '检验科 LIS: sends 血常规 / 生化 results (ORU^R01) over MLLP, takes lab orders on its MLLP port',
    application: 'LIS',
    build(controlId, patient, request, msh18) {
      const biochem = request.variant === 'biochem';
      return buildOru({
        sendingApplication: 'LIS', sendingFacility: '桃源院区检验科', receivingFacility: '桃源院区', controlId, msh18, patient,
        department: 'XYK^^^桃源院区^^^^^血液科门诊', doctor: '1024^李建国',
        order: biochem
          ? { placer: `O${controlId}`, filler: `L${controlId}`, code: 'BIOCHEM', name: '生化全项', specimen: '血清', section: 'CH' }
          : { placer: `O${controlId}`, filler: `L${controlId}`, code: 'CBC', name: '血常规', specimen: '静脉血', section: 'HM' },
        observations: numeric(biochem ? BIOCHEM : CBC),
      });
    },
  }, config);
}
