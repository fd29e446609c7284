/**
 * The ceiling the FHIR benchmark compares with: express answering a SELECT by primary key on the store's own table,
 * with no FHIR layer (no validation, no version headers, no JSON re-serialisation). Started by bench/fhir-store.ts.
 */
import express from 'express';
import { openDatabase } from '../engine/db';

const db = openDatabase(process.env.RAW_DB);
const app = express();
app.get('/ready', (_req, res) => { res.send('ok'); });
app.get('/raw/:type/:id', async (req, res) => {
  const row = await db('fhir_resources').where({ resource_type: req.params.type, id: req.params.id }).first('content');
  if (!row) res.status(404).end();
  else res.type('application/fhir+json').send(row.content);
});
const server = app.listen(Number(process.env.RAW_PORT));
process.on('SIGTERM', () => server.close(() => db.destroy().then(() => process.exit(0))));
