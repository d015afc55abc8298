/**
 * The importer's progress on stderr: a bar redrawn in place on a terminal, a line every tenth of
 * the way otherwise (a log file, a pipe), so a long run shows it is moving either way.
 */
const WIDTH = 30;

export interface Progress {
  update(done: number, total: number): void;
  end(): void;
}

export function progressBar(out: NodeJS.WriteStream = process.stderr): Progress {
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total) {
      const share = total === 0 ? 1 : done / total;
      const line = `[${'#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.')}] ${String(Math.floor(share * 100)).padStart(3)}%  ${done}/${total} files`;
      if (out.isTTY) {
        out.write(`\r${line}`);
        drawn = true;
        return;
      }
      const tenth = Math.floor(share * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        out.write(`${line}\n`);
      }
    },
    end() {
      if (drawn) out.write('\n');
    },
  };
}
