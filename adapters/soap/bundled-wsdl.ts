import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads a WSDL shipped in adapters/soap/wsdl/. The build (tsc) copies only code into dist/, so from
 * dist/adapters/soap the files are found in the source tree the build came from.
 */
export function bundledWsdl(file: string): string {
  const candidates = [path.join(__dirname, 'wsdl', file), path.resolve(__dirname, '../../../adapters/soap/wsdl', file)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`WSDL ${file} not found in ${candidates.join(' or ')}`);
  return fs.readFileSync(found, 'utf8');
}
