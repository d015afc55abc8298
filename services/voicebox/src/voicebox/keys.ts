/**
 * The voicebox key map (docs/behaviour.md §4): which key does what while messages are played.
 *
 * SEMS's keys come first and keep their meaning (1 repeat, 2 save, 3 delete, 4 start over);
 * the rest are added where they do not clash: 5 envelope, 6 next, 7 previous, 8 forward, 0 help,
 * # skip to the end of the message, * exit. Operators change single keys with VOICEBOX_KEYS
 * (e.g. `previous=9,next=7,forward=6`); the prompts `message_menu`, `help` and `no_more_messages` name the
 * default keys, so whoever changes a key records those prompts anew for their domain.
 */
import { DIGITS, type Digit } from '@sipvm/contracts';

export const MENU_COMMANDS = ['repeat', 'save', 'delete', 'startOver', 'envelope', 'next', 'previous', 'forward', 'help', 'skip', 'exit'] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];
export type KeyMap = Readonly<Record<MenuCommand, Digit>>;

export const DEFAULT_KEYS: KeyMap = {
  repeat: '1',
  save: '2',
  delete: '3',
  startOver: '4',
  envelope: '5',
  next: '6',
  previous: '7',
  forward: '8',
  help: '0',
  skip: '#',
  exit: '*',
};

/** The command a key stands for, if any. */
export function commandFor(keys: KeyMap, digit: string): MenuCommand | undefined {
  return MENU_COMMANDS.find((command) => keys[command] === digit);
}

/**
 * The default map with `command=key` overrides applied, e.g. "previous=9, next=7, forward=6".
 * Throws a message naming the problem: an unknown command, a key that is not a DTMF key, or two
 * commands on one key.
 */
export function parseKeyMap(overrides: string): KeyMap {
  const keys: Record<MenuCommand, Digit> = { ...DEFAULT_KEYS };
  for (const part of overrides
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z]+)\s*=\s*(\S)$/.exec(part);
    if (!match) throw new Error(`"${part}" is not command=key`);
    const command = MENU_COMMANDS.find((c) => c.toLowerCase() === match[1]!.toLowerCase());
    if (!command) throw new Error(`"${match[1]}" is not a command (${MENU_COMMANDS.join(', ')})`);
    const digit = DIGITS.find((d) => d === match[2]!.toUpperCase());
    if (!digit) throw new Error(`"${match[2]}" is not a DTMF key (0-9, *, #, A-D)`);
    keys[command] = digit;
  }
  const seen = new Map<Digit, MenuCommand>();
  for (const command of MENU_COMMANDS) {
    const other = seen.get(keys[command]);
    if (other) throw new Error(`key ${keys[command]} is given to both ${other} and ${command}`);
    seen.set(keys[command], command);
  }
  return keys;
}
