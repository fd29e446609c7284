import { pharmacyOrganizations } from '../../../mappings/circulation/pharmacy-organizations';
import { json } from './circulation-fixtures';

describe('the configured pharmacies as Organizations', () => {
  it('writes each with its code, the pharmacy type and whether it is a campus or a third-party pharmacy', () => {
    expect(pharmacyOrganizations({
      'XH-DYF': { via: 'api', name: '星湖大药房', address: '星湖路 88 号', phone: '0571-88886666' },
      'TY-MZYF': { via: 'platform', name: '桃源院区门诊药房' },
    })).toEqual(json('out-pharmacy-organizations.json'));
  });
});
