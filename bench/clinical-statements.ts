/**
 * How many SQL statements, and how much engine CPU, one clinical message of each kind costs in the FHIR store
 * (PostgreSQL, privacy on, as in production): the message is parsed and mapped as lis-results / his-patients-adt do,
 * then written with the fhir-transaction destination. Prints figures; asserts nothing.
 *
 *   npm run build && node dist/bench/clinical-statements.js      (LINGSHU_BENCH_PG, BENCH_MESSAGES=200)
 */
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { fhirTransaction } from '../adapters/fhir/fhir-transaction-destination';
import { executeBundle } from '../fhir-resources/rest/bundle-executor';
import { hl7v2Mapping } from '../channels/hl7v2-steps';
import { InProcessBus } from '../engine/bus/in-process-bus';
import { startFhirModule } from '../fhir-resources/fhir-module';
import { FieldCipher } from '../fhir-resources/privacy/field-cipher';
import { ProtectedFields } from '../fhir-resources/privacy/protected-fields';
import { checkTableSizes } from '../fhir-resources/store/prepared-statements';
import { mixMessage, type MixKind } from './clinical-mix';

const PG_ADMIN = process.env.LINGSHU_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);

async function main(): Promise<void> {
  const dbName = `lingshu_bench_stmt_${process.pid}`;
  const admin = knexFactory({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${dbName}`);
  const db = knexFactory({ client: 'pg', connection: Object.assign(new URL(PG_ADMIN), { pathname: `/${dbName}` }).toString(), pool: { min: 0, max: 4 } });
  const bus = new InProcessBus(db);
  try {
    await bus.start();
    const privacy = new ProtectedFields(new FieldCipher(randomBytes(32)));
    const fhir = await startFhirModule({ db, bus, security: { privacy } as never });
    const map = hl7v2Mapping({ authoritySystems: { HIS: 'urn:oid:2.16.156.10011.2.5.1.4' } });
    const write = fhirTransaction(() => fhir.repository);
    let statements = 0;
    const log: string[] = [];
    db.on('query', (q: { sql: string }) => { statements++; if (process.env.BENCH_SQL && log.length < 400) log.push(q.sql.slice(0, 160)); });
    const run = randomBytes(3).toString('hex');
    /** A mix message mapped as the channel maps it, as the Bundle's JSON. */
    const bundleOf = (kind: MixKind, i: number, tag: string) => {
      const m = mixMessage(kind, i, tag, 500);
      const mapped = map({ content: m.text } as never);
      return { m, content: typeof mapped === 'string' ? mapped : JSON.stringify(mapped) };
    };
    /** Written as the fhir-transaction destination writes a delivered message. */
    const sendOne = async (b: ReturnType<typeof bundleOf>) =>
      write.send({ messageId: b.m.controlId, channelId: 'bench', destination: 'fhir-store', correlationId: b.m.controlId, content: b.content, attempt: 1 });
    // A hospital's store is not new: with statistics on a table of real size the store keeps its statements' plans
    // (prepared-statements.ts plansMayBeKept); on this fresh database every statement would be parsed and planned.
    for (let i = 0; i < 200; i++) await sendOne(bundleOf('ORU', i, `${run}prime`));
    await db.raw('ANALYZE');
    if (!(await checkTableSizes(db))) throw new Error('the store does not keep plans after ANALYZE: the figures would be of unnamed statements');
    for (const kind of ['ADT', 'ORU', 'ORM'] as MixKind[]) {
      for (const phase of ['warm', 'measure']) {
        statements = 0;
        const cpu0 = process.cpuUsage();
        const t0 = Date.now();
        const GROUP = Number(process.env.BENCH_GROUP ?? 1);
        for (let i = 0; i < MESSAGES; i += GROUP) {
          const bundles = Array.from({ length: GROUP }, (_, k) => bundleOf(kind, i + k, `${run}${phase}`));
          if (GROUP === 1) await sendOne(bundles[0]);
          else await fhir.repository.transaction(async (trx) => { for (const b of bundles) await executeBundle(trx, JSON.parse(b.content), { correlationId: b.m.controlId }); });
        }
        const cpu = process.cpuUsage(cpu0);
        if (phase === 'measure' && process.env.BENCH_SQL === kind) console.log(log.splice(0).slice(-Math.round(statements / MESSAGES)).join('\n'));
        log.length = 0;
        if (phase === 'measure') {
          console.log(`${kind}: ${(statements / MESSAGES).toFixed(1)} statements/message, engine CPU ${((cpu.user + cpu.system) / 1000 / MESSAGES).toFixed(2)} ms/message, ${(MESSAGES / ((Date.now() - t0) / 1000)).toFixed(0)} msg/s sequential`);
        }
      }
    }
    await fhir.stop();
  } finally {
    await bus.close();
    await db.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
