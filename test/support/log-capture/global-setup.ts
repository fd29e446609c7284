import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Jest global setup: every log line of the run is copied into a fresh directory under the OS temp dir (see
 * engine/log-capture.ts); the workers and the engines the tests spawn inherit LINGSHU_LOG_CAPTURE from here.
 * global-teardown.ts scans the directory when the run ends.
 */
export default function setupLogCapture(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-log-capture-'));
  process.env.LINGSHU_LOG_CAPTURE = dir;
  process.env.LINGSHU_LOG_CAPTURE_LEVEL ??= 'debug';
}
