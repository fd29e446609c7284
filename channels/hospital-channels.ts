import type { ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hisOrders, hisOrdersOut } from './his-orders';
import { hisPatients, hisPatientsAdt } from './his-patients';
import { hisVisits } from './his-visits';
import { lisResults } from './lis-results';
import { medtechBooking } from './medtech-booking';
import { medtechSlots } from './medtech-slots';
import { pacsReports } from './pacs-reports';
import { reproductiveCenterResults } from './reproductive-center-results';
import type { HospitalConfig } from './hospital-config';

const CHANNELS: Record<keyof HospitalConfig['channels'], (deps: ChannelDeps) => ChannelDefinition> = {
  hisPatients,
  hisPatientsAdt,
  hisVisits,
  hisOrders,
  hisOrdersOut,
  lisResults,
  pacsReports,
  reproductiveCenterResults,
  medtechBooking,
  medtechSlots,
};

/** The hospital's interfaces that its configuration turns on. */
export function hospitalChannels(deps: ChannelDeps): ChannelDefinition[] {
  return (Object.keys(CHANNELS) as (keyof typeof CHANNELS)[])
    .filter((key) => deps.hospital.channels[key].enabled)
    .map((key) => ({ ...CHANNELS[key](deps), origin: `channels/${key}` }));
}
