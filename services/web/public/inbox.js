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
const duration = (ms) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

function showCounts() {
  $('counts').textContent = `${plural(counts.new, 'new message', 'new messages')}, ${plural(counts.saved, 'saved message', 'saved messages')}`;
}

function playing() {
  return [...document.querySelectorAll('audio')].some((audio) => !audio.paused && !audio.ended);
}

// ------------------------------------------------------------------ messages

async function loadMessages() {
  const list = await api(`${mailboxPath()}/messages?limit=200`);
  counts = list.counts;
  showCounts();
  $('message-list').replaceChildren(...list.messages.map(messageItem));
  $('no-messages').hidden = list.messages.length > 0;
}

function messageItem(message) {
  const when = new Date(message.recordedAt);
  const title = element('h3', {}, message.sender || 'Unknown caller');
  if (!message.read) title.append(element('span', { class: 'badge unheard' }, 'new'));
  if (message.urgent) title.append(element('span', { class: 'badge' }, 'urgent'));
  const audio = element('audio', { controls: '', preload: 'none', src: message.audioUrl, 'aria-label': `Message from ${message.sender || 'unknown caller'}` });
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
  audio.addEventListener('play', () => {
    if (!message.read) mark(true).catch(report);
  });
  // An audio link lives minutes: when one has expired, fresh links come with the list.
  audio.addEventListener('error', () => {
    if (Date.parse(message.audioUrlExpiresAt) < Date.now() + 5_000) loadMessages().catch(report);
  });
  markButton.addEventListener('click', () => mark(!message.read).then(() => say(message.read ? 'Marked as heard.' : 'Marked as new.'), report));
  const remove = element('button', { type: 'button' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!confirm(`Delete the message from ${message.sender || 'unknown caller'}?`)) return;
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
  const download = element('a', { href: `${message.audioUrl}&download=1`, download: `${message.id}.wav` }, 'Download');
  item.append(
    title,
    element('p', {}, `${when.toLocaleString()} · ${duration(message.durationMs)}`),
    audio,
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

async function loadGreetings() {
  const { greetings } = await api(`${mailboxPath()}/greetings`);
  $('greeting-list').replaceChildren(...greetings.map(greetingItem));
}

function greetingItem(greeting) {
  const canWrite = session.scopes.includes('greetings:write');
  const box = element('div', { class: 'greeting', 'data-type': greeting.type });
  box.append(
    element('h3', {}, `Greeting “${greeting.type}”`),
    element('p', {}, greeting.exists ? `Your own greeting (${new Date(greeting.updatedAt).toLocaleString()}).` : 'The standard greeting.'),
  );
  if (greeting.exists && greeting.audioUrl) box.append(element('audio', { controls: '', preload: 'none', src: greeting.audioUrl, 'aria-label': `Greeting ${greeting.type}` }));
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
  actions.append(element('label', { for: fileId }, 'Upload a recording'), file);

  const record = element('button', { type: 'button' }, 'Record');
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
        const preview = element('audio', { controls: '', src: URL.createObjectURL(wav), 'aria-label': 'Your new recording' });
        const keep = element('button', { type: 'button' }, 'Keep this recording');
        keep.addEventListener('click', () => save(wav, 'The recording').catch(report));
        box.querySelector('.preview')?.remove();
        box.append(element('div', { class: 'preview actions' }, preview, keep));
        say('Recorded. Listen to it, then keep it or record again.');
      });
      record.textContent = 'Stop recording';
      say('Recording… speak now, then press Stop recording.');
    } catch (error) {
      report(error instanceof DOMException ? new Error('The microphone is not available.') : error);
    }
  });
  actions.append(record);

  if (greeting.exists) {
    const remove = element('button', { type: 'button' }, 'Delete greeting');
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
  for (const id of ['messages', 'greetings', 'sign-out', 'mailbox']) $(id).hidden = true;
  $('sign-in').hidden = false;
  say(message ?? 'Signed out.');
}

async function openInbox(token) {
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
