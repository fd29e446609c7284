import { OperationOutcomeError } from '@medplum/core';
import type { Appointment, AppointmentParticipant, ChargeItem, Patient, Reference, Schedule, ServiceRequest, Slot } from '@medplum/fhirtypes';
import {
  MedtechBookingRefusal, MedtechBookingUnavailable, type MedtechBookingPlatform, type PlatformBooking,
} from '../../../adapters/medtech-booking/medtech-booking-api';
import { childLogger } from '../../../engine/logger';
import { CHARGE_CODE_SYSTEM, CHARGE_STATUS } from '../../billing/billing-vocabulary';
import { MEDTECH_BOOKING_SYSTEM, MEDTECH_SLOT_SYSTEM, QUEUE_NUMBER_EXTENSION } from '../../profiles/booking-vocabulary';
import type { Repository } from '../../store/repository';
import { operation, ref, resource } from '../operation';
import { chargeItemsOf, identifierValue, liveAppointmentOf, refreshSlot, refusal } from './booking-records';

const log = childLogger({ component: 'booking' });
const SLOT_PARAM = "Parameters.parameter.where(name='slot')";

/** Platform refusals and what they mean to the patient; the platform's own message is kept in the text. */
const PLATFORM_REFUSALS: Record<string, 'conflict' | 'bad-request'> = {
  SLOT_FULL: 'conflict',
  SLOT_STOPPED: 'conflict',
  SLOT_EXPIRED: 'conflict',
  ORDER_ALREADY_BOOKED: 'conflict',
  ITEM_MISMATCH: 'bad-request',
  SLOT_NOT_FOUND: 'bad-request',
};

/** The platform said no, or could not be asked: the outcome the patient gets; nothing has been written. */
export function platformOutcome(err: unknown, doing: string): unknown {
  if (err instanceof MedtechBookingRefusal) {
    return refusal(PLATFORM_REFUSALS[err.code] ?? 'conflict', `${doing}失败：${err.platformMessage || err.code}（医技预约平台 ${err.code}）`, err.code === 'SLOT_NOT_FOUND' || err.code === 'ITEM_MISMATCH' ? SLOT_PARAM : undefined);
  }
  if (err instanceof MedtechBookingUnavailable) {
    log.warn('medtech booking platform unavailable', { doing, error: err.message });
    return refusal('service-unavailable', `医技预约平台暂时无法访问，${doing}未完成，请稍后重试`);
  }
  return err;
}

/** 已缴费: every live ChargeItem of the order billed. Unpaid, refunded and charge-less orders are refused. */
function checkPaid(items: ChargeItem[]): void {
  const live = items.filter((c) => c.status !== CHARGE_STATUS.cancelled);
  if (live.length === 0) throw refusal('conflict', '该医嘱没有待缴或已缴的收费项目，缴费后才能预约');
  if (live.some((c) => c.status === CHARGE_STATUS.refunded)) throw refusal('conflict', '该医嘱已退费，不能预约');
  if (live.some((c) => c.status !== CHARGE_STATUS.paid)) throw refusal('conflict', '该医嘱尚未缴费，请先缴费再预约');
}

/** The 收费项目 codes the order stands for: its own code and its charge lines'. */
function orderItemCodes(order: ServiceRequest, items: ChargeItem[]): Set<string> {
  const codings = [...(order.code?.coding ?? []), ...items.flatMap((c) => c.code?.coding ?? [])];
  return new Set(codings.filter((c) => !c.system || c.system === CHARGE_CODE_SYSTEM).map((c) => c.code).filter((c): c is string => Boolean(c)));
}

function slotIdOf(slot: Reference<Slot>): string {
  const m = /^Slot\/([A-Za-z0-9\-.]{1,64})$/.exec(slot.reference ?? '');
  if (!m) throw refusal('bad-request', 'slot 须为 Slot/<id> 形式的引用', SLOT_PARAM);
  return m[1];
}

/** The name the platform prints on the booking slip. */
function patientName(p: Patient | undefined): string | undefined {
  const n = p?.name?.[0];
  if (!n) return undefined;
  return n.text ?? (`${n.family ?? ''}${(n.given ?? []).join('')}` || undefined);
}

function appointmentOf(order: ServiceRequest, slot: Slot, schedule: Schedule | undefined, booking: PlatformBooking): Appointment {
  const item = slot.serviceType?.[0];
  const room = booking.slot?.room;
  return {
    resourceType: 'Appointment',
    identifier: [{ system: MEDTECH_BOOKING_SYSTEM, value: booking.id }],
    status: 'booked',
    ...(item ? { serviceType: [item] } : {}),
    ...(item?.text ? { description: item.text } : {}),
    basedOn: [{ reference: `ServiceRequest/${order.id}` }],
    slot: [{ reference: `Slot/${slot.id}` }],
    start: slot.start,
    end: slot.end,
    created: booking.bookedAt ?? new Date().toISOString(),
    ...(booking.precautions ? { patientInstruction: booking.precautions } : {}),
    ...(booking.queueNo !== undefined ? { extension: [{ url: QUEUE_NUMBER_EXTENSION, valueInteger: booking.queueNo }] } : {}),
    ...(booking.queueNo !== undefined || room ? { comment: [room, booking.queueNo !== undefined ? `排队号 ${booking.queueNo}` : undefined].filter(Boolean).join('，') } : {}),
    participant: [
      { actor: order.subject as AppointmentParticipant['actor'], status: 'accepted' },
      // The campus (Location) the schedule belongs to: where the patient goes.
      ...(schedule?.actor ?? []).map((actor): AppointmentParticipant => ({ actor: actor as AppointmentParticipant['actor'], status: 'accepted' })),
    ],
  };
}

/**
 * `POST /fhir/ServiceRequest/{id}/$book` with `slot`: books a paid exam / lab / treatment order on the 医技预约
 * platform and records the Appointment. The order is read as the caller may (a patient sees only their own; another
 * patient's is not found), then the platform is asked while the patient waits; only its yes writes anything — the
 * Appointment and the Slot's new count, elevated since patients may not write Slot. Refusals are zh-CN
 * OperationOutcomes: not paid / already booked / slot full, stopped or expired 409, wrong slot 400, platform down 503.
 * Two requests for one order race to the platform, which keeps one live booking per order: the loser is refused there.
 */
export function bookOperation(platform: () => MedtechBookingPlatform) {
  return operation({
    name: 'book',
    level: 'instance',
    resourceType: 'ServiceRequest',
    description: '医技预约: book a paid order into a 号源 (Slot) of the 医技预约 platform',
    // The patient waits for the platform; the store is held only for the writes after its yes.
    transaction: 'own',
    parameters: { slot: ref<Slot>('Slot') },
    output: { return: resource<Appointment>('Appointment') },
    async run(repo: Repository, params, context) {
      const order = await repo.read<ServiceRequest>('ServiceRequest', context.id!);
      if (order.status !== 'active') throw refusal('conflict', `医嘱状态为 ${order.status}，不能预约`);
      if (!order.subject?.reference?.startsWith('Patient/')) throw refusal('conflict', '医嘱没有关联患者，不能预约');
      const store = context.elevated;
      const items = await chargeItemsOf(store, order.id!);
      checkPaid(items);
      const booked = await liveAppointmentOf(store, order.id!);
      if (booked) throw refusal('conflict', `该医嘱已预约（${booked.start ?? ''}），如需改约请先取消预约`);

      const slot = await repo.read<Slot>('Slot', slotIdOf(params.slot)).catch((err: unknown) => {
        if (err instanceof OperationOutcomeError) throw refusal('bad-request', `号源 ${params.slot.reference} 不存在`, SLOT_PARAM);
        throw err;
      });
      const platformSlotId = identifierValue(slot.identifier, MEDTECH_SLOT_SYSTEM);
      if (!platformSlotId) throw refusal('bad-request', '该号源不属于医技预约平台，不能用于医技预约', SLOT_PARAM);
      const slotItem = slot.serviceType?.flatMap((t) => t.coding ?? []).find((c) => c.system === CHARGE_CODE_SYSTEM)?.code;
      if (!slotItem || !orderItemCodes(order, items).has(slotItem)) {
        throw refusal('bad-request', `号源项目（${slot.serviceType?.[0]?.text ?? slotItem ?? '未知'}）与医嘱项目不符`, SLOT_PARAM);
      }
      const schedule = slot.schedule?.reference ? await store.read<Schedule>('Schedule', slot.schedule.reference.split('/')[1]).catch(() => undefined) : undefined;
      const patient = await store.read<Patient>('Patient', order.subject.reference.split('/')[1]).catch(() => undefined);

      let answer: PlatformBooking;
      try {
        answer = await platform().book({ slotId: platformSlotId, orderNo: order.id!, patientId: patient?.id ?? order.subject.reference, patientName: patientName(patient), itemCode: slotItem });
      } catch (err) {
        throw platformOutcome(err, '预约');
      }
      try {
        const appointment = await store.transaction(async (trx) => {
          // Keyed by the platform's booking id: two racing requests for the same place record one Appointment.
          const created = (await trx.create(appointmentOf(order, slot, schedule, answer), { ifNoneExist: `identifier=${MEDTECH_BOOKING_SYSTEM}|${answer.id}` })).resource;
          await refreshSlot(trx, answer.slot);
          return created;
        });
        log.info('order booked', { serviceRequest: order.id, booking: answer.id, slot: platformSlotId, appointment: appointment.id });
        return { return: appointment };
      } catch (err) {
        // The platform holds a place our store will not show: give it back, so the patient's retry starts clean.
        await platform().cancel(answer.id, '预约记录保存失败，自动撤销').catch((e: unknown) => log.error('booking not recorded and not withdrawn', { booking: answer.id, error: (e as Error).message }));
        throw err;
      }
    },
  });
}
