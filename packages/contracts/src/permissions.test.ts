/**
 * The permission table covers the whole contract: a subject, stream or bucket added without a rule
 * fails here (and, with the harness's authenticating NATS, in every test that uses it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { APPLICATIONS } from './call.js';
import { BUCKETS } from './buckets.js';
import { BUCKET_RULES, grantsOf, NATS_IDENTITIES, OBSERVER_WILDCARDS, STREAM_RULES, SUBJECT_RULES, subjectMatches } from './permissions.js';
import { STREAMS } from './streams.js';
import { SUBJECTS } from './subjects.js';

/** Every subject of SUBJECTS: per-application subjects for each application, per-instance ones for a sample instance. */
function contractSubjects(): { path: string; subject: string }[] {
  const found: { path: string; subject: string }[] = [];
  const walk = (node: unknown, path: string) => {
    if (typeof node === 'string') found.push({ path, subject: node });
    else if (typeof node === 'function') {
      const parameter = /^\(?\s*([A-Za-z_]\w*)/.exec(String(node))?.[1];
      const values = parameter === 'app' ? [...APPLICATIONS] : ['sample-1'];
      for (const value of values) found.push({ path: `${path}(${value})`, subject: (node as (token: string) => string)(value) });
    } else if (node && typeof node === 'object') for (const [key, child] of Object.entries(node)) walk(child, path ? `${path}.${key}` : key);
  };
  walk(SUBJECTS, '');
  return found;
}

const streamSubjects = Object.values(STREAMS).flatMap((stream) => stream.subjects as readonly string[]);
const onStream = (subject: string) => streamSubjects.some((pattern) => subjectMatches(subject, pattern));

describe('the NATS permission table', () => {
  it('has a rule with a publisher for every subject of the contract, and a subscriber for every one not on a stream', () => {
    const subjects = contractSubjects();
    assert.ok(subjects.length > 40, `${subjects.length} subjects found`);
    for (const { path, subject } of subjects) {
      if (OBSERVER_WILDCARDS.includes(subject)) continue;
      const rules = SUBJECT_RULES.filter((rule) => subjectMatches(subject, rule.subject));
      assert.ok(rules.length > 0, `SUBJECTS.${path} (${subject}) has no rule in permissions.ts`);
      assert.ok(
        rules.some((rule) => rule.publish.length > 0),
        `nobody may publish SUBJECTS.${path} (${subject})`,
      );
      if (!onStream(subject))
        assert.ok(
          rules.some((rule) => rule.subscribe.length > 0),
          `nobody may subscribe to SUBJECTS.${path} (${subject})`,
        );
    }
  });

  it('rules nothing that is not in the contract', () => {
    const subjects = contractSubjects().map((s) => s.subject);
    for (const rule of SUBJECT_RULES)
      assert.ok(
        subjects.some((subject) => subjectMatches(subject, rule.subject)),
        `${rule.subject} is in no SUBJECTS entry`,
      );
  });

  it('has a rule for every stream, someone who writes it, and someone who takes what it holds where that is its purpose', () => {
    assert.deepEqual(Object.keys(STREAM_RULES).sort(), Object.keys(STREAMS).sort());
    for (const [key, stream] of Object.entries(STREAMS)) {
      const writers = SUBJECT_RULES.filter((rule) => stream.subjects.some((pattern) => subjectMatches(rule.subject, pattern))).flatMap((rule) => rule.publish);
      assert.ok(writers.length > 0, `nobody writes ${stream.name}`);
      const rule = STREAM_RULES[key as keyof typeof STREAMS];
      // Work queues exist to be consumed; the failure reports are read by operators (admin).
      if (stream.retention === 'workqueue') assert.ok((rule.consume?.length ?? 0) > 0, `nobody consumes the work queue ${stream.name}`);
    }
  });

  it('gives every bucket exactly one owning service', () => {
    assert.deepEqual(Object.keys(BUCKET_RULES).sort(), Object.keys(BUCKETS).sort());
  });

  it('grants everything to admin only, and every identity its own inbox only', () => {
    for (const identity of NATS_IDENTITIES) {
      const { publish, subscribe } = grantsOf(identity);
      if (identity === 'admin') {
        assert.deepEqual({ publish, subscribe }, { publish: ['>'], subscribe: ['>'] });
        continue;
      }
      for (const subject of [...publish, ...subscribe])
        assert.ok(!['>', '*.>', 'vm.>', '$JS.API.>', '_INBOX.>'].includes(subject), `${identity} may use ${subject}`);
      assert.deepEqual(
        subscribe.filter((s) => s.startsWith('_INBOX')),
        [`_INBOX.${identity}.>`],
      );
    }
  });

  it('keeps call events of one application away from the others', () => {
    // voicebox's call-started events carry the PIN's verifier; voicemail's carry e-mail addresses.
    assert.ok(!grantsOf('voicemail').subscribe.some((s) => subjectMatches(SUBJECTS.call.started('voicebox'), s)));
    assert.ok(!grantsOf('web').subscribe.some((s) => subjectMatches(SUBJECTS.call.started('voicebox'), s)));
    assert.ok(!grantsOf('media').subscribe.some((s) => s.startsWith('vm.call.')));
  });
});

describe('subjectMatches', () => {
  it('matches NATS wildcards token by token', () => {
    assert.ok(subjectMatches('vm.media.m1.play', 'vm.media.*.play'));
    assert.ok(!subjectMatches('vm.media.m1.x.play', 'vm.media.*.play'));
    assert.ok(subjectMatches('vm.staging.abc', 'vm.staging.>'));
    assert.ok(!subjectMatches('vm.staging', 'vm.staging.>'));
    assert.ok(!subjectMatches('vm.mail.send', 'vm.mail.failed'));
  });
});
