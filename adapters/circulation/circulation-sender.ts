import type { Task } from '@medplum/fhirtypes';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import type { CirculationOrder } from '../../mappings/circulation/circulation-order';
import type { CirculationEvent } from '../../mappings/circulation/circulation-transitions';
import type { Repository } from '../../fhir-resources/store/repository';
import type { CirculationTaskWriter } from './circulation-task-writer';
import { PharmacyClient, PharmacyRefusal } from './pharmacy-client';
import { PlatformRefusal, PrescriptionPlatformClient } from './prescription-platform-client';

export interface CirculationPeers {
  platform?: () => PrescriptionPlatformClient;
  /** Pharmacy code → its API client (third-party pharmacies). */
  pharmacies: Record<string, () => PharmacyClient>;
}

export interface CirculationSenderOptions {
  repository: () => Repository;
  writer: CirculationTaskWriter;
  peers: CirculationPeers;
  /** The Task's numbers recorded by an earlier attempt (Task.output), read by the channel's mapping. */
  recorded: (task: Task) => { hiRxno?: string; rxTraceCode?: string };
  /** Is the Task still waiting to be sent (requested / pending-review)? */
  waiting: (task: Task) => boolean;
}

const now = () => new Date().toISOString();

/**
 * The circulation channel's destination: sends a prescription to the platform (预核验 → 签名 → 上传) or to a
 * pharmacy's API, or undoes it, then records the outcome on the Task through the writer. The Task is read again
 * first: one already sent is not sent twice, one cancelled meanwhile is not sent at all. A refusal by the peer is an
 * outcome (recorded on the Task, message sent); a transport failure or 5xx is thrown and retried by the queue.
 */
export function circulationSender(o: CirculationSenderOptions): DestinationConnector {
  const clients = new Map<string, PrescriptionPlatformClient | PharmacyClient>();
  const platform = (): PrescriptionPlatformClient => {
    if (!o.peers.platform) throw new Error('no 处方流转平台 configured (hospital.channels.prescriptionCirculation.platform)');
    if (!clients.has('platform')) clients.set('platform', o.peers.platform());
    return clients.get('platform') as PrescriptionPlatformClient;
  };
  const pharmacy = (code: string): PharmacyClient => {
    const make = o.peers.pharmacies[code];
    if (!make) throw new Error(`pharmacy ${code} has no API configured`);
    if (!clients.has(code)) clients.set(code, make());
    return clients.get(code) as PharmacyClient;
  };

  async function circulate(order: Extract<CirculationOrder, { action: 'circulate' }>, task: Task, correlationId: string): Promise<{ event: CirculationEvent; steps: string[] }> {
    try {
      if (order.via === 'platform') {
        const done = await platform().upload(order.upload.check, order.upload.rxFile, o.recorded(task), async (n) => {
          await o.writer.apply({ task: order.task, event: { kind: 'checked', at: now(), rxNo: order.rxNo, numbers: { 'hi-rxno': n.hiRxno, 'rx-trace-code': n.rxTraceCode } } }, correlationId);
        });
        return { event: { kind: 'circulated', at: now(), rxNo: order.rxNo, numbers: { 'hi-rxno': done.hiRxno, 'rx-trace-code': done.rxTraceCode } }, steps: done.steps };
      }
      const view = await pharmacy(order.pharmacy).submit(order.order);
      const steps = [`POST /prescriptions: ${view.orderId ?? ''} ${view.status ?? ''}`.trim()];
      if (view.status === 'cancelled') return { event: { kind: 'refused', at: now(), note: `药房 ${order.pharmacy} 已有处方 ${order.rxNo} 且已取消` }, steps };
      return { event: { kind: 'circulated', at: now(), rxNo: order.rxNo, numbers: view.orderId ? { 'pharmacy-order-id': view.orderId } : {} }, steps };
    } catch (err) {
      if (err instanceof PlatformRefusal || err instanceof PharmacyRefusal) return { event: { kind: 'refused', at: now(), note: err.message }, steps: [`refused: ${err.message}`] };
      throw err;
    }
  }

  async function undo(order: Extract<CirculationOrder, { action: 'undo' }>, task: Task): Promise<{ event: CirculationEvent; steps: string[] }> {
    try {
      if (order.via === 'platform') {
        const { hiRxno } = o.recorded(task);
        if (!hiRxno) return { event: { kind: 'cancelled', at: now(), note: '处方未上传至流转平台，无需撤销' }, steps: ['not uploaded: nothing to undo'] };
        const out = await platform().call('rxUndo', { hi_rxno: hiRxno, undo_rea: order.reason });
        return { event: { kind: 'cancelled', at: now() }, steps: [`rxUndo: ${String(out.rx_stas_name ?? 'ok')}`] };
      }
      const view = await pharmacy(order.pharmacy).cancel(order.rxNo, order.reason);
      return { event: { kind: 'cancelled', at: now() }, steps: [`cancel: ${view.status ?? 'ok'}`] };
    } catch (err) {
      if (err instanceof PharmacyRefusal && err.status === 404) return { event: { kind: 'cancelled', at: now(), note: '药房未收到该处方，无需撤销' }, steps: [`cancel: ${err.message}`] };
      if (err instanceof PlatformRefusal || err instanceof PharmacyRefusal) return { event: { kind: 'cancel-refused', at: now(), note: err.reason }, steps: [`refused: ${err.message}`] };
      throw err;
    }
  }

  return {
    type: 'prescription-circulation',
    async send(message: OutboundMessage) {
      const order = JSON.parse(message.content) as CirculationOrder;
      const [, id] = order.task.split('/');
      const task = await o.repository().read<Task>('Task', id);
      if (order.action === 'circulate' && !o.waiting(task)) {
        return { response: `${order.task} is ${task.status}/${task.businessStatus?.coding?.[0]?.code ?? ''}: not sent` };
      }
      const { event, steps } = order.action === 'circulate' ? await circulate(order, task, message.correlationId) : await undo(order, task);
      const recorded = await o.writer.apply({ task: order.task, event }, message.correlationId);
      return { response: [...steps, recorded].join('\n') };
    },
    async stop() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
