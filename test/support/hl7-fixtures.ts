import fs from 'node:fs';
import path from 'node:path';

/** Bytes of a sample message under test/fixtures/hl7v2 (GBK variants must stay bytes until the adapter decodes them). */
export function hl7Fixture(name: string): Buffer {
  return fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'hl7v2', name));
}

/** The same message with another MSH-10, so that many copies are told apart by control id. */
export function withControlId(message: string, controlId: string): string {
  const fields = message.split('\r')[0].split('|');
  fields[9] = controlId;
  return [fields.join('|'), ...message.split('\r').slice(1)].join('\r');
}
