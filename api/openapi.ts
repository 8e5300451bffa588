/**
 * The OpenAPI 3.1 document, generated from the routes fastify actually registered (their
 * schemas are the ones that validate and serialize), and the self-contained /docs page
 * that renders it (no script, style or font from anywhere else).
 */
import { errorTable } from './errors.js';
import { MEMBERS_HEADERS } from './members.js';

export interface RouteRecord {
  readonly method: string;
  readonly url: string;
  readonly schema: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** `X#` and `X#/a/b` (fastify $ids) become `#/components/schemas/X` and `.../X/a/b`. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value as Json)) {
    if (key === '$ref' && typeof v === 'string') {
      const [id = '', pointer = ''] = v.split('#');
      out.$ref = `#/components/schemas/${id}${pointer}`;
    } else if (key !== '$id') out[key] = rewriteRefs(v);
  }
  return out;
}

function contentOf(schema: unknown, fallbackType = 'application/json'): Json {
  const s = schema as Json;
  if (s !== null && typeof s === 'object' && typeof s.content === 'object' && s.content !== null) {
    const out: Json = {};
    for (const [type, entry] of Object.entries(s.content as Json)) {
      const inner = rewriteRefs((entry as Json).schema) as Json;
      out[type] = { schema: type === 'application/octet-stream' ? { type: 'string', contentMediaType: type, ...inner } : inner };
    }
    return out;
  }
  return { [fallbackType]: { schema: rewriteRefs(schema) } };
}

function parameters(schema: unknown, where: 'path' | 'query'): Json[] {
  const s = schema as { properties?: Json; required?: string[] } | undefined;
  if (s?.properties === undefined) return [];
  return Object.entries(s.properties).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    ...(typeof (p as Json).description === 'string' ? { description: (p as Json).description } : {}),
    schema: rewriteRefs(p),
  }));
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '202': 'Accepted: admitted to the mempool, not yet committed',
  '4xx': 'Client error: { error: { code, message, details } } (codes in x-error-codes)',
  '5xx': 'Server or node condition: { error: { code, message, details } }',
};

/**
 * Builds the document. `routes` come from fastify's onRoute hook, so nothing registered is
 * missing. In members mode every POST says it needs the signature headers, and with
 * `signedReads` every GET too, but for `open` (the documentation routes), as the server
 * has it (before 2026-12-02 the GETs never said so; review).
 */
export function openApiDocument(routes: readonly RouteRecord[], shared: readonly Json[], options: { members: boolean; signedReads: boolean; open: ReadonlySet<string> }): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = route.schema;
    const operation: Json = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: s.summary ?? '',
      tags: s.tags ?? [],
      parameters: [...parameters(s.params, 'path'), ...parameters(s.querystring, 'query')],
      responses: Object.fromEntries(
        Object.entries((s.response ?? {}) as Json).map(([status, schema]) => [status.toUpperCase(), { description: STATUS_TEXT[status] ?? 'answer', content: contentOf(schema) }]),
      ),
    };
    if (s.body !== undefined) operation.requestBody = { required: true, content: contentOf(s.body) };
    if (options.members && !options.open.has(route.url) && (route.method !== 'GET' || options.signedReads)) operation.security = [{ SteleKey: [], SteleTimestamp: [], SteleSignature: [] }];
    paths[path] = { ...(paths[path] ?? {}), [route.method.toLowerCase()]: operation };
  }
  const schemas: Json = {};
  for (const schema of shared) schemas[String(schema.$id)] = rewriteRefs(schema);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stele REST API',
      version: '1',
      description:
        'Submit signed transactions and read blocks, transactions and state of a Stele chain. ' +
        'Bytes are lower-case hex, amounts decimal strings. Errors: { "error": { "code", "message", "details" } }. ' +
        'Members mode: requests carry Stele-Key, Stele-Timestamp and Stele-Signature headers (docs/api.md).',
    },
    paths,
    components: {
      schemas,
      securitySchemes: {
        SteleKey: { type: 'apiKey', in: 'header', name: MEMBERS_HEADERS.key, description: 'members mode: the signer public key (64 hex)' },
        SteleTimestamp: { type: 'apiKey', in: 'header', name: MEMBERS_HEADERS.timestamp, description: 'members mode: ms since the epoch' },
        SteleSignature: { type: 'apiKey', in: 'header', name: MEMBERS_HEADERS.signature, description: 'members mode: Ed25519 over the request (docs/api.md)' },
      },
    },
    'x-error-codes': errorTable(),
  };
}

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stele REST API</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; } code, pre { font: 13px ui-monospace, monospace; }
details { border: 1px solid #d0d0d7; border-radius: 6px; margin: .5rem 0; padding: .4rem .8rem; }
summary { cursor: pointer; } .m { display: inline-block; width: 4rem; font-weight: 600; }
.get { color: #0b6e2f; } .post { color: #8a4b00; } pre { background: #f4f4f7; padding: .6rem; overflow: auto; max-height: 28rem; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #e4e4ea; padding: .2rem .6rem; text-align: left; vertical-align: top; }
</style>
</head>
<body>
<h1>Stele REST API</h1>
<p id="intro">Loading <a href="openapi.json">openapi.json</a>&hellip;</p>
<div id="routes"></div>
<h2>Schemas</h2><div id="schemas"></div>
<h2>Error codes</h2><div id="codes"></div>
<script src="docs/app.js"></script>
</body>
</html>
`;

/** Plain DOM code, no framework: builds the page from /openapi.json. */
export const DOCS_SCRIPT = `'use strict';
(async function () {
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  };
  const pre = (value) => el('pre', {}, JSON.stringify(value, null, 2));
  const doc = await (await fetch('openapi.json')).json();
  document.getElementById('intro').textContent = doc.info.description;
  const routes = document.getElementById('routes');
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el('details', {}, el('summary', {}, el('span', { class: 'm ' + method }, method.toUpperCase()), el('code', {}, path), ' \\u2014 ' + op.summary));
      if (op.parameters.length) box.append(el('h4', {}, 'Parameters'), pre(op.parameters));
      if (op.requestBody) box.append(el('h4', {}, 'Request body'), pre(op.requestBody.content));
      box.append(el('h4', {}, 'Responses'), pre(op.responses));
      routes.append(box);
    }
  }
  const schemas = document.getElementById('schemas');
  for (const [name, schema] of Object.entries(doc.components.schemas)) schemas.append(el('details', {}, el('summary', {}, el('code', {}, name)), pre(schema)));
  const table = el('table', {}, el('tr', {}, el('th', {}, 'code'), el('th', {}, 'HTTP'), el('th', {}, 'meaning')));
  for (const row of doc['x-error-codes']) table.append(el('tr', {}, el('td', {}, el('code', {}, row.code)), el('td', {}, String(row.status)), el('td', {}, row.meaning)));
  document.getElementById('codes').append(table);
})().catch((error) => { document.getElementById('intro').textContent = 'Could not load openapi.json: ' + error; });
`;
