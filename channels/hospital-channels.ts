import type { ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { drugDatabase, hisChargeItems } from './dictionaries';
import { hisCharges } from './his-charges';
import { hisOrders, hisOrdersOut } from './his-orders';
import { hisPatients, hisPatientsAdt } from './his-patients';
import { hisVisits } from './his-visits';
import { lisResults } from './lis-results';
import { medtechBooking } from './medtech-booking';
import { medtechSlots } from './medtech-slots';
import { paymentChannels } from './payments';
import { pacsReports } from './pacs-reports';
import { prescriptionCirculation } from './prescription-circulation';
import { reproductiveCenterResults } from './reproductive-center-results';
import type { HospitalConfig } from './hospital-config';

/** One interface may take several channels (the way out, and the ways news comes back). */
const CHANNELS: Record<keyof HospitalConfig['channels'], (deps: ChannelDeps) => ChannelDefinition | ChannelDefinition[]> = {
  hisPatients,
  hisPatientsAdt,
  hisVisits,
  hisOrders,
  hisOrdersOut,
  hisCharges,
  lisResults,
  pacsReports,
  reproductiveCenterResults,
  medtechBooking,
  medtechSlots,
  prescriptionCirculation,
  hisChargeItems,
  drugDatabase,
};

/** The hospital's interfaces that its configuration turns on. */
export function hospitalChannels(deps: ChannelDeps): ChannelDefinition[] {
  return (Object.keys(CHANNELS) as (keyof typeof CHANNELS)[])
    .filter((key) => deps.hospital.channels[key].enabled)
    .flatMap((key) => ([] as ChannelDefinition[]).concat(CHANNELS[key](deps)).map((def) => ({ ...def, origin: `channels/${key}` })))
    .concat(deps.hospital.payments.enabled ? paymentChannels(deps).map((c) => ({ ...c, origin: 'channels/payments' })) : []);
}
