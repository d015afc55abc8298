/**
 * Moving through the messages a page at a time (docs/behaviour.md §4): new messages first, then
 * saved ones, each a listing of its own. The record holds one page; reaching its end (or its
 * start, going back) asks storage for the next (or the previous) one, and the flow goes on when it
 * arrives (`page-loaded`). Pure: the runner carries the `load-page` action out.
 */
import type { Playable } from '@sipvm/contracts';
import type { CallAction } from '@sipvm/service';
import { say } from '../call/turn.js';
import { envelope, prompt } from './speech.js';
import type { MailboxEntry, VoiceboxAction, VoiceboxEvent } from './events.js';
import type { VoiceboxSettings, VoiceboxState, VoiceboxStep } from './state.js';

type Action = CallAction | VoiceboxAction;

/** Where a message stands in its listing (its urgency places it when urgent ones come first). */
const cursorOf = (entry: MailboxEntry) => ({ id: entry.id, urgent: entry.urgent });

/** Announces message `index` of the page ("first urgent message", "next saved message" …); the message follows when it ends. */
export function announce(state: VoiceboxState, index: number, prefix: Playable[], settings: VoiceboxSettings, before: Action[] = []): VoiceboxStep {
  const entry = state.page[index]!;
  const first = state.before === 0 && index === 0;
  const kind = entry.wasNew ? (entry.urgent ? 'urgent' : 'new') : 'saved';
  const label = `${first ? 'first' : 'next'}_${kind}_message`;
  const items = [
    ...state.prefix,
    ...prefix,
    prompt(settings.voice, label),
    ...(settings.envelope === 'always' ? envelope(settings.voice, entry, settings.timeZone) : []),
  ];
  return say({ ...state, cursor: index, prefix: [] }, 'announce', items, before);
}

/** On to the next message that is still there: on this page, the next page, the saved messages, or "no more messages". */
export function advance(state: VoiceboxState, prefix: Playable[], settings: VoiceboxSettings, before: Action[] = []): VoiceboxStep {
  const next = state.page.findIndex((m, i) => i > state.cursor && !m.deleted);
  if (next >= 0) return announce(state, next, prefix, settings, before);
  const last = state.page[state.page.length - 1];
  if (state.more && last) return loadPage({ ...state, prefix: [...state.prefix, ...prefix] }, state.segment, { after: cursorOf(last) }, before);
  if (state.segment === 'new') return loadPage({ ...state, prefix: [...state.prefix, ...prefix] }, 'saved', { from: 'start' }, before);
  return theEnd(state, prefix, settings, before);
}

/** Back to the previous message that is still there: on this page, the page before, or the last new message. */
export function goBack(state: VoiceboxState, from: number, settings: VoiceboxSettings): VoiceboxStep {
  for (let i = Math.min(from, state.page.length) - 1; i >= 0; i--) if (!state.page[i]!.deleted) return announce(state, i, [], settings);
  const first = state.page[0];
  if (state.before > 0 && first) return loadPage(state, state.segment, { before: cursorOf(first) });
  if (state.segment === 'saved') return loadPage(state, 'new', { from: 'end' });
  // Nothing before: the current message again (or, with none, the end).
  const current = state.page[state.cursor];
  return current && !current.deleted ? announce(state, state.cursor, [], settings) : theEnd(state, [], settings);
}

/** A page asked for has arrived: the flow goes on with its first message (going forward) or its last (going back). */
export function pageLoaded(state: VoiceboxState, event: Extract<VoiceboxEvent, { kind: 'page-loaded' }>, settings: VoiceboxSettings): VoiceboxStep {
  const { page, segment } = event;
  if (event.direction === 'after') {
    if (page.length === 0) {
      // Nothing more where we looked: the saved messages next, or the end.
      if (segment === 'new') return loadPage(state, 'saved', { from: 'start' });
      return theEnd(state, [], settings);
    }
    const before = segment === state.segment ? state.before + state.page.length : 0;
    return announce({ ...state, segment, page, before, more: event.more, cursor: 0 }, 0, [], settings);
  }
  if (page.length === 0) {
    const current = state.page[state.cursor];
    return current && !current.deleted ? announce(state, state.cursor, [], settings) : theEnd(state, [], settings);
  }
  // Going back: the page before (its `more`: there are messages before it), or the last new messages.
  const moved: VoiceboxState = { ...state, segment, page, before: event.more ? Math.max(1, state.before - page.length) : 0, more: true, cursor: page.length };
  if (segment !== state.segment) moved.more = false;
  return goBack(moved, page.length, settings);
}

/** Asks for a page; the flow waits for it (`paging`), saying nothing new meanwhile. */
export function loadPage(
  state: VoiceboxState,
  segment: VoiceboxState['segment'],
  start: Extract<Action, { kind: 'load-page' }>['start'],
  before: Action[] = [],
): VoiceboxStep {
  return {
    state: { ...state, phase: 'paging', waiting: false },
    actions: [...before, { kind: 'load-page', segment, heard: state.heard, start }],
  };
}

/** "There are no more messages": start over, go back or leave. */
export function theEnd(state: VoiceboxState, prefix: Playable[], settings: VoiceboxSettings, before: Action[] = []): VoiceboxStep {
  return say({ ...state, cursor: state.page.length, prefix: [] }, 'end', [...state.prefix, ...prefix, prompt(settings.voice, 'no_more_messages')], before);
}
