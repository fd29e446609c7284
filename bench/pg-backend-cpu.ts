import fs from 'node:fs';

/**
 * CPU seconds of the PostgreSQL backends serving `database` only, from /proc (Linux): counting every PostgreSQL
 * process also counts other work on a shared server. A backend that exits meanwhile takes its time with it.
 */
export function backendSeconds(database: string): number {
  let total = 0;
  if (!fs.existsSync('/proc/self/stat')) return total;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* gone */ }
  }
  return total;
}
