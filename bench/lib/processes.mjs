// The platform's processes on this machine, found by their command lines, and what they cost:
// CPU seconds (user + system, all threads) between two readings and peak resident memory while
// sampled. Linux /proc only; a benchmark of a running platform, not of a remote one.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** What each platform process is called in the figures, from its command line. */
function roleOf(argv) {
  const service = argv.map((a) => /services\/([a-z-]+)\/dist\/main\.js$/.exec(a)?.[1]).find(Boolean);
  if (service) return service;
  const exe = basename(argv[0] ?? '');
  if (exe === 'nats-server' || exe === 'rtpengine' || exe === 'drachtio' || exe === 'kamailio') return exe;
  if (exe === 'node' && argv[1]?.endsWith('scripts/start-local.mjs')) return 'npm-start (log relay)';
  return undefined;
}

function readProc(pid, file) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The platform's processes now: [{ pid, role }]. With `within`, only those whose command line
 * names that folder (`npm start` of one checkout: its services, and the .local state the others
 * are started with), so that another platform or test run on the same machine is not counted.
 */
export function platformProcesses(within) {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = readProc(name, 'cmdline')?.split('\0').filter(Boolean);
    const role = argv && roleOf(argv);
    if (role && (within === undefined || argv.some((a) => a.includes(within)))) found.push({ pid: Number(name), role });
  }
  return found;
}

/** CPU seconds a process has used so far (all its threads), or undefined when it is gone. */
export function cpuSeconds(pid) {
  const stat = readProc(pid, 'stat');
  if (!stat) return undefined;
  // Fields after the command name (which may hold spaces) start at the state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssBytes(pid) {
  const status = readProc(pid, 'status');
  const kb = status && /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}

/**
 * Samples the given processes until stopped: CPU used in between, peak RSS. Processes of one role
 * (two media instances, say) are added up.
 */
export function sampleProcesses(processes, intervalMs = 250) {
  const first = new Map(processes.map((p) => [p.pid, cpuSeconds(p.pid) ?? 0]));
  const peakRss = new Map();
  const startRss = new Map();
  const sample = () => {
    const byRole = new Map();
    for (const p of processes) byRole.set(p.role, (byRole.get(p.role) ?? 0) + (rssBytes(p.pid) ?? 0));
    for (const [role, bytes] of byRole) {
      peakRss.set(role, Math.max(peakRss.get(role) ?? 0, bytes));
      if (!startRss.has(role)) startRss.set(role, bytes);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    /** { role → { cpuSeconds, peakRssBytes, startRssBytes, count } } since the sampler started. */
    stop() {
      clearInterval(timer);
      sample();
      const result = new Map();
      for (const p of processes) {
        const used = (cpuSeconds(p.pid) ?? first.get(p.pid)) - first.get(p.pid);
        const entry = result.get(p.role) ?? { cpuSeconds: 0, peakRssBytes: peakRss.get(p.role) ?? 0, startRssBytes: startRss.get(p.role) ?? 0, count: 0 };
        entry.cpuSeconds += used;
        entry.count++;
        result.set(p.role, entry);
      }
      return result;
    },
  };
}

/**
 * The processes and every descendant of theirs, with the same role: Kamailio's workers are forked
 * children, and a parent's CPU figure does not include its running children.
 */
export function withDescendants(processes) {
  const children = childrenByParent();
  const found = [];
  const visit = (pid, role) => {
    found.push({ pid, role });
    for (const child of children.get(pid) ?? []) visit(child, role);
  };
  for (const p of processes) if (p.pid !== undefined) visit(p.pid, p.role);
  return found;
}

/** A process and all its descendants, each under its own role (processes of no known role left out). */
export function processTree(rootPid) {
  const children = childrenByParent();
  const found = [];
  const visit = (pid) => {
    const argv = readProc(String(pid), 'cmdline')?.split('\0').filter(Boolean);
    const role = argv && roleOf(argv);
    if (role) found.push({ pid, role });
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(rootPid);
  return found;
}

/** Every process's children, by parent pid, as /proc shows them now. */
function childrenByParent() {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(name, 'stat');
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  return children;
}
