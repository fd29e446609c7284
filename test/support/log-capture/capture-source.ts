/**
 * Names each test file's log capture after the test file (setupFilesAfterEnv: runs before the test file loads the
 * logger), so that the log check can say which suite wrote a leaking line. Engines the test spawns inherit it.
 */
if (process.env.LINGSHU_LOG_CAPTURE) {
  const testPath = expect.getState().testPath ?? '';
  process.env.LINGSHU_LOG_CAPTURE_SOURCE = testPath.slice(testPath.lastIndexOf('/test/') + 1) || 'unknown';
}
