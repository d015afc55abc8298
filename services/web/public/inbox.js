// The web inbox: lists the mailbox's messages, plays them, marks them read or unread, deletes
// them, and records or uploads greetings — all through the service's own API with the mailbox
// token. The token arrives in the link's fragment (#token=…, which browsers never send to a
// server), is kept in this tab's sessionStorage only, and is removed from the address bar at once.
// Everything shown is set as text (textContent), never as HTML.
import { toPlatformWav } from './wav.js';

const TOKEN_KEY = 'sipvm-inbox-token';
/** Longest greeting recorded here (the service's default WEB_GREETING_MAX_MS). */
const MAX_RECORDING_MS = 120_000;
const $ = (id) => document.getElementById(id);

let session; // { token, mailbox, scopes }
let counts;

function takeTokenFromLink() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function say(text) {
  $('status').textContent = text;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${session.token}`, ...(options.headers ?? {}) },
    cache: 'no-store',
  });
  if (response.status === 401) {
    signOut('Your access has expired or is not valid. Please open a new link from your provider.');
    throw new ApiError(401, 'signed out');
  }
  const body = response.headers.get('content-type')?.includes('json') ? await response.json() : undefined;
  if (!response.ok) throw new ApiError(response.status, body?.detail ?? response.statusText);
  return body;
}

function mailboxPath() {
  return `/api/v1/mailboxes/${encodeURIComponent(session.mailbox.did)}/${encodeURIComponent(session.mailbox.uid)}`;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const clock = (seconds) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
/** A length for people: "9 seconds", "1 minute 5 seconds". */
const spoken = (seconds) => {
  const s = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(s / 60);
  const rest = s % 60;
  if (minutes === 0) return plural(rest, 'second', 'seconds');
  return rest === 0 ? plural(minutes, 'minute', 'minutes') : `${plural(minutes, 'minute', 'minutes')} ${plural(rest, 'second', 'seconds')}`;
};

/** Who called, as a person: name and number, either alone, withheld, or the address it came from. */
function callerText(message) {
  const caller = message.caller;
  if (caller?.withheld) return 'Withheld number';
  const number = caller?.numberText ?? caller?.number;
  if (caller?.name && number && caller.name !== number) return `${caller.name} (${number})`;
  return caller?.name || number || message.sender || 'Unknown caller';
}

/**
 * A player whose length is known before anything is fetched (from the message's metadata): a
 * play/pause button and a position slider, both reachable by keyboard and named for screen
 * readers; the <audio> element underneath loads only when played.
 */
function player(src, seconds, label, onPlay) {
  const audio = element('audio', { preload: 'none', src });
  const button = element('button', { type: 'button', class: 'play', 'aria-label': `Play ${label}` }, 'Play');
  const position = element('input', {
    type: 'range',
    min: '0',
    max: String(Math.max(0.1, seconds)),
    step: '0.1',
    value: '0',
    'aria-label': `Position in ${label}`,
  });
  const time = element('span', { class: 'time' }, `0:00 / ${clock(seconds)}`);
  let length = seconds;
  const show = () => {
    position.value = String(audio.currentTime);
    position.setAttribute('aria-valuetext', `${spoken(audio.currentTime)} of ${spoken(length)}`);
    time.textContent = `${clock(audio.currentTime)} / ${clock(length)}`;
  };
  button.addEventListener('click', () => (audio.paused ? audio.play().catch(report) : audio.pause()));
  position.addEventListener('input', () => {
    audio.currentTime = Number(position.value);
    show();
  });
  audio.addEventListener('loadedmetadata', () => {
    if (Number.isFinite(audio.duration) && audio.duration > 0) {
      length = audio.duration;
      position.max = String(length);
      show();
    }
  });
  audio.addEventListener('timeupdate', show);
  audio.addEventListener('play', () => {
    button.textContent = 'Pause';
    button.setAttribute('aria-label', `Pause ${label}`);
    onPlay?.();
  });
  for (const stop of ['pause', 'ended']) {
    audio.addEventListener(stop, () => {
      button.textContent = 'Play';
      button.setAttribute('aria-label', `Play ${label}`);
    });
  }
  show();
  return { node: element('div', { class: 'player' }, button, position, time, audio), audio };
}

function showCounts() {
  $('counts').textContent = `${plural(counts.new, 'new message', 'new messages')}, ${plural(counts.saved, 'saved message', 'saved messages')}`;
}

function playing() {
  return [...document.querySelectorAll('audio')].some((audio) => !audio.paused && !audio.ended);
}

// ------------------------------------------------------------------ messages

async function loadMessages() {
  const asked = session;
  const list = await api(`${mailboxPath()}/messages?limit=200`);
  if (session !== asked) return; // signed out, or another mailbox opened, while it loaded
  counts = list.counts;
  showCounts();
  $('message-list').replaceChildren(...list.messages.map(messageItem));
  $('no-messages').hidden = list.messages.length > 0;
}

function messageItem(message) {
  const when = new Date(message.recordedAt);
  const who = callerText(message);
  const title = element('h3', {}, who);
  if (!message.read) title.append(element('span', { class: 'badge unheard' }, 'new'));
  if (message.urgent) title.append(element('span', { class: 'badge' }, 'urgent'));
  const item = element('li', { class: `message${message.read ? '' : ' new'}`, 'data-id': message.id });
  const markButton = element('button', { type: 'button' }, message.read ? 'Mark as new' : 'Mark as heard');
  const mark = async (read) => {
    const changed = await api(`${mailboxPath()}/messages/${message.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ read }),
    });
    message.read = changed.message.read;
    counts = changed.counts;
    showCounts();
    item.classList.toggle('new', !message.read);
    title.querySelector('.unheard')?.remove();
    if (!message.read) title.append(element('span', { class: 'badge unheard' }, 'new'));
    markButton.textContent = message.read ? 'Mark as new' : 'Mark as heard';
  };
  // Listening marks a message heard, as on the phone (SPEC §4).
  const { node: controls, audio } = player(message.audioUrl, message.durationMs / 1000, `the message from ${who}`, () => {
    if (!message.read) mark(true).catch(report);
  });
  // An audio link lives minutes: when one has expired, fresh links come with the list.
  audio.addEventListener('error', () => {
    if (Date.parse(message.audioUrlExpiresAt) < Date.now() + 5_000) loadMessages().catch(report);
  });
  markButton.addEventListener('click', () => mark(!message.read).then(() => say(message.read ? 'Marked as heard.' : 'Marked as new.'), report));
  const remove = element('button', { type: 'button' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!confirm(`Delete the message from ${who}?`)) return;
    try {
      const result = await api(`${mailboxPath()}/messages/${message.id}`, { method: 'DELETE' });
      counts = result.counts;
      showCounts();
      item.remove();
      $('no-messages').hidden = $('message-list').children.length > 0;
      say('Message deleted.');
    } catch (error) {
      report(error);
    }
  });
  const download = element(
    'a',
    { href: `${message.audioUrl}&download=1`, download: `${message.id}.wav`, 'aria-label': `Download the message from ${who}` },
    'Download',
  );
  item.append(
    title,
    element('p', {}, `${when.toLocaleString()} · ${spoken(message.durationMs / 1000)}`),
    controls,
    ...transcriptOf(message),
    element('div', { class: 'actions' }, markButton, remove, download),
  );
  return item;
}

/** What the caller said, beside the player (as text, never as HTML); nothing while there is no word of it. */
function transcriptOf(message) {
  const transcript = message.transcript;
  if (!transcript) return [];
  if (transcript.status !== 'done') return [element('p', { class: 'transcript none' }, 'No transcript of this message.')];
  return [
    element(
      'figure',
      { class: 'transcript' },
      element('figcaption', {}, 'Transcript (by machine, may be wrong)'),
      element('blockquote', { lang: transcript.language }, transcript.text),
    ),
  ];
}

// ------------------------------------------------------------------ greetings

/**
 * What each greeting does, for people. The API's own label wins when it gives one; a type this page
 * does not know is shown by its name.
 */
const GREETING_LABELS = {
  vm: ['Standard greeting', 'Callers hear it when you do not answer.'],
  unavail: ['When you do not answer', 'Callers hear it when you do not answer.'],
  busy: ['When you are busy', 'Callers hear it when you are on another call.'],
  temp: ['Temporary greeting', 'Callers hear it instead of all others until its end date (on holiday, say).'],
  name: ['Your name', 'Your name, as the standard phrase says it when you have no greeting of your own.'],
};

function greetingLabel(greeting) {
  const [title, purpose] = GREETING_LABELS[greeting.type] ?? [
    `Greeting “${greeting.type}”`,
    `Callers hear it when your provider asks for the ${greeting.type} greeting.`,
  ];
  return { title: greeting.label ?? title, purpose };
}

async function loadGreetings() {
  const asked = session;
  const { greetings } = await api(`${mailboxPath()}/greetings`);
  if (session !== asked) return;
  $('greeting-list').replaceChildren(...greetings.map(greetingItem));
}

function greetingItem(greeting) {
  const canWrite = session.scopes.includes('greetings:write');
  const box = element('div', { class: 'greeting', 'data-type': greeting.type });
  const { title, purpose } = greetingLabel(greeting);
  const until = greeting.until ? ` It ends ${new Date(greeting.until).toLocaleString()}.` : '';
  box.append(
    element('h3', {}, title),
    element('p', {}, `${purpose}${until}`),
    element(
      'p',
      {},
      greeting.exists
        ? `Your own recording (${new Date(greeting.updatedAt).toLocaleString()}).`
        : 'You have not recorded one: callers hear the standard one of your provider.',
    ),
  );
  // 8 kHz mono 16-bit WAV: its length follows from its size.
  if (greeting.exists && greeting.audioUrl)
    box.append(player(greeting.audioUrl, Math.max(0, (greeting.size ?? 44) - 44) / 16_000, `your ${title.toLowerCase()}`).node);
  if (!canWrite) return box;

  const actions = element('div', { class: 'actions' });
  const save = async (wav, what) => {
    say(`Saving the ${greeting.type} greeting…`);
    await api(`${mailboxPath()}/greetings/${greeting.type}`, { method: 'PUT', headers: { 'content-type': 'audio/wav' }, body: wav });
    await loadGreetings();
    say(`${what} saved as your ${greeting.type} greeting.`);
  };

  const fileId = `upload-${greeting.type}`;
  const file = element('input', { type: 'file', id: fileId, accept: 'audio/*' });
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    try {
      await save(await toPlatformWav(await chosen.arrayBuffer()), 'The file');
    } catch (error) {
      report(error instanceof DOMException ? new Error('That file is not audio this browser can read.') : error);
    }
  });
  actions.append(element('label', { for: fileId }, `Upload a recording for: ${title}`), file);

  const record = element('button', { type: 'button', 'aria-label': `Record: ${title}` }, 'Record');
  let recorder;
  record.addEventListener('click', async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    try {
      recorder = await startRecording(async (wav) => {
        recorder = undefined;
        record.textContent = 'Record';
        record.setAttribute('aria-label', `Record: ${title}`);
        const preview = element('audio', { controls: '', src: URL.createObjectURL(wav), 'aria-label': 'Your new recording' });
        const keep = element('button', { type: 'button' }, 'Keep this recording');
        keep.addEventListener('click', () => save(wav, 'The recording').catch(report));
        box.querySelector('.preview')?.remove();
        box.append(element('div', { class: 'preview actions' }, preview, keep));
        say('Recorded. Listen to it, then keep it or record again.');
      });
      record.textContent = 'Stop recording';
      record.setAttribute('aria-label', 'Stop recording');
      say('Recording… speak now, then press Stop recording.');
    } catch (error) {
      report(error instanceof DOMException ? new Error('The microphone is not available.') : error);
    }
  });
  actions.append(record);

  if (greeting.exists) {
    const remove = element('button', { type: 'button', 'aria-label': `Delete greeting: ${title}` }, 'Delete greeting');
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete your ${greeting.type} greeting? Callers will hear the standard greeting.`)) return;
      try {
        await api(`${mailboxPath()}/greetings/${greeting.type}`, { method: 'DELETE' });
        await loadGreetings();
        say(`The ${greeting.type} greeting is deleted.`);
      } catch (error) {
        report(error);
      }
    });
    actions.append(remove);
  }
  box.append(actions);
  return box;
}

/** Records from the microphone until stopped (or the maximum length), then hands over the platform WAV. */
async function startRecording(done) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  const limit = setTimeout(() => recorder.stop(), MAX_RECORDING_MS);
  recorder.addEventListener('dataavailable', (event) => chunks.push(event.data));
  recorder.addEventListener('stop', async () => {
    clearTimeout(limit);
    stream.getTracks().forEach((track) => track.stop());
    try {
      done(await toPlatformWav(await new Blob(chunks, { type: recorder.mimeType }).arrayBuffer()));
    } catch (error) {
      report(error);
    }
  });
  recorder.start();
  return recorder;
}

// ------------------------------------------------------------------ signing in and out

function report(error) {
  if (error instanceof ApiError && error.status === 401) return;
  say(`Sorry, that did not work: ${error.message}`);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session = undefined;
  counts = undefined;
  delete document.body.dataset.ready;
  for (const id of ['messages', 'greetings', 'sign-out', 'mailbox']) $(id).hidden = true;
  // Nothing of the mailbox stays in the page: not for the next person at this device, and not
  // on show for a moment when another mailbox's link opens in this tab.
  for (const id of ['message-list', 'greeting-list']) $(id).replaceChildren();
  for (const id of ['mailbox', 'counts']) $(id).textContent = '';
  $('sign-in').hidden = false;
  say(message ?? 'Signed out.');
}

async function openInbox(token) {
  delete document.body.dataset.ready;
  session = { token };
  const me = await api('/api/v1/me');
  if (me.kind !== 'mailbox') throw new Error('this page needs a mailbox token');
  session = { token, mailbox: me.mailbox, scopes: me.scopes };
  $('mailbox').textContent = `Mailbox ${me.mailbox.uid}@${me.mailbox.did}`;
  for (const id of ['sign-out', 'mailbox']) $(id).hidden = false;
  $('sign-in').hidden = true;
  const work = [];
  if (me.scopes.includes('messages:read')) {
    $('messages').hidden = false;
    work.push(loadMessages());
  }
  if (me.scopes.includes('greetings:read')) {
    $('greetings').hidden = false;
    work.push(loadGreetings());
  }
  await Promise.all(work);
  document.body.dataset.ready = 'true';
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token-input').value.trim();
  $('token-input').value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  openInbox(token).catch(report);
});
$('sign-out').addEventListener('click', () => signOut());
$('refresh').addEventListener('click', () => loadMessages().then(() => say('Up to date.'), report));
// New messages show up by themselves, but never by pulling a message away while it plays.
setInterval(() => {
  if (session?.mailbox && !playing() && !document.hidden && session.scopes.includes('messages:read')) loadMessages().catch(report);
}, 60_000);

const token = takeTokenFromLink();
if (token) openInbox(token).catch(report);
else signOut('');
// A link pasted into this tab changes only the fragment: no page load, so the token is taken here.
window.addEventListener('hashchange', () => {
  if (!new URLSearchParams(location.hash.slice(1)).has('token')) return;
  const fresh = takeTokenFromLink();
  if (fresh) openInbox(fresh).catch(report);
});
