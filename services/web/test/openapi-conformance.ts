/**
 * For tests: checks real answers of the service against the OpenAPI document it serves — the
 * operation exists, the status is documented, the documented headers are there, the media type
 * is the documented one and a JSON body validates against the documented schema (Ajv, JSON
 * Schema 2020-12, formats included). The document itself is first checked against the OpenAPI
 * 3.1 schema.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';

type Json = Record<string, unknown>;
// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer was JSON. */
  json?: unknown;
  /** Whether the answer had a body at all. */
  hasBody: boolean;
}

export class OpenApiConformance {
  readonly #ajv: Ajv2020;
  /** Operations checked so far, "METHOD /template STATUS", for a coverage report. */
  readonly seen = new Set<string>();

  private constructor(readonly document: Json) {
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(document, 'openapi');
  }

  static async load(document: Json): Promise<OpenApiConformance> {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(result.valid, true, `the document is not valid OpenAPI: ${JSON.stringify(result.errors, null, 1)}`);
    assert.equal(validator.version, '3.1');
    return new OpenApiConformance(document);
  }

  /** The path template of the document that `path` is an instance of. */
  template(path: string): string {
    const paths = Object.keys(this.document.paths as Json);
    const found = paths.find((template) => new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
    assert.ok(found, `${path} is not in the document`);
    return found;
  }

  check(method: string, path: string, answer: Answer): void {
    const template = this.template(path.split('?')[0]!);
    const operations = (this.document.paths as Record<string, Json>)[template]!;
    const operation = operations[method === 'HEAD' ? 'get' : method.toLowerCase()] as Json | undefined;
    assert.ok(operation, `${method} ${template} is not in the document`);
    const responses = operation.responses as Record<string, Json>;
    const status = String(answer.status);
    let response = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
    assert.ok(response, `${method} ${template} answered ${status}, which the document does not list (${Object.keys(responses).join(', ')})`);
    if (typeof response.$ref === 'string') response = this.#resolve(response.$ref);
    this.seen.add(`${method} ${template} ${status}`);
    for (const header of Object.keys((response.headers ?? {}) as Json)) {
      if (header === 'Content-Length' && answer.status === 304) continue;
      assert.ok(answer.headers.has(header), `${method} ${template} ${status}: documented header ${header} is missing`);
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content || !answer.hasBody) {
      assert.ok(!answer.hasBody || method === 'HEAD', `${method} ${template} ${status}: a body the document does not describe`);
      return;
    }
    const type = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = content[type];
    assert.ok(media, `${method} ${template} ${status}: content type ${type} is not documented (${Object.keys(content).join(', ')})`);
    if (answer.json === undefined) return;
    const schema = media.schema as Json;
    // A reference into the document is resolved against the document (added under the id `openapi`).
    const validate = this.#ajv.compile(typeof schema.$ref === 'string' ? { $ref: `openapi${schema.$ref}` } : schema);
    assert.ok(
      validate(answer.json),
      `${method} ${template} ${status}: the body does not match the document: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.json).slice(0, 2000)}`,
    );
  }

  /** Checks a webhook body a receiver got against the document's `webhooks`. */
  checkWebhook(name: string, body: unknown): void {
    const operation = ((this.document.webhooks as Record<string, Json>)[name]?.post ?? {}) as Json;
    const schema = ((operation.requestBody as Json | undefined)?.content as Record<string, Json> | undefined)?.['application/json']?.schema as Json | undefined;
    assert.ok(schema, `webhook ${name} is not in the document`);
    const validate = this.#ajv.compile(typeof schema.$ref === 'string' ? { $ref: `openapi${schema.$ref}` } : schema);
    assert.ok(validate(body), `webhook ${name}: the body does not match the document: ${this.#ajv.errorsText(validate.errors)}`);
  }

  #resolve(ref: string): Json {
    let node: unknown = this.document;
    for (const part of ref.replace(/^#\//, '').split('/')) node = (node as Json)[part];
    assert.ok(node, `unresolvable ${ref}`);
    return node as Json;
  }
}
