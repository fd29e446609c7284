import fs from 'node:fs';
import { collectKnownPersonalData } from './known-personal-data';
import { describeLeaks, scanCaptureDirectory } from './leak-scanner';

/**
 * Jest global teardown: the run fails when any captured log line holds an unmasked ID number, mobile number or the
 * name of a person in the test data, naming the capture file and line. A clean capture is removed; one with leaks
 * is kept for the developer to read.
 */
export default function checkCapturedLogs(): void {
  const dir = process.env.LINGSHU_LOG_CAPTURE;
  if (!dir) return;
  const { lines, files, leaks } = scanCaptureDirectory(dir, collectKnownPersonalData());
  if (leaks.length > 0) {
    throw new Error(`personal data in the logs of this run (${leaks.length} finding(s) in ${lines} lines of ${files} capture files; kept in ${dir}):\n${describeLeaks(leaks)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`log check: ${lines} captured log lines from ${files} files, no unmasked ID number, mobile number or test-data name\n`);
}
