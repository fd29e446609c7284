// Suites log only warnings and errors unless the developer asks for more.
process.env.LINGSHU_LOG_LEVEL ??= 'warn';
