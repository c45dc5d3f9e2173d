// An independent EHR for the integration tests: @medplum/core's CDS Hooks client reads our discovery,
// resolves our prefetch templates against the FHIR server itself (buildCdsRequest) and calls the service
// (callCdsService). The EHR JWTs are signed by the test and passed in, one per endpoint (aud differs).
//
//   node ehr_client.mjs --service URL --fhir URL --token T --patient ID --hook patient-view \
//     --discovery-jwt J1 --call-jwt J2
import { parseArgs } from 'node:util';

// @medplum/core refers to the global WebSocket when it loads (Node 20: only behind --experimental-websocket).
// This client never opens one; a stand-in lets `node ehr_client.mjs` run as written on Node 20.
globalThis.WebSocket ??= class WebSocketUnavailable {
  constructor() {
    throw new Error('WebSocket is not available in this test EHR client');
  }
};
const { MedplumClient, buildCdsRequest } = await import('@medplum/core');

const { values } = parseArgs({
  options: {
    service: { type: 'string' }, fhir: { type: 'string' }, token: { type: 'string' }, patient: { type: 'string' },
    hook: { type: 'string', default: 'patient-view' }, 'discovery-jwt': { type: 'string' }, 'call-jwt': { type: 'string' },
  },
});

const fhirBase = new URL(values.fhir);
const fhir = new MedplumClient({ baseUrl: fhirBase.origin + '/', fhirUrlPath: fhirBase.pathname.replace(/^\//, ''), accessToken: values.token, cacheTime: 0 });
const cds = new MedplumClient({ baseUrl: values.service.replace(/\/?$/, '/'), cdsServicesUrl: 'cds-services', cacheTime: 0 });

const discovery = await cds.get(cds.getCdsServicesUrl(), { headers: { Authorization: `Bearer ${values['discovery-jwt']}` } });
const service = discovery.services.find((s) => s.hook === values.hook);
const user = { resourceType: 'Practitioner', id: 'medplum-ehr-user' };
const request = await buildCdsRequest(fhir, user, service, { userId: 'Practitioner/medplum-ehr-user', patientId: values.patient });
const response = await cds.callCdsService(service.id, request, { headers: { Authorization: `Bearer ${values['call-jwt']}` } });
process.stdout.write(JSON.stringify({ service: service.id, prefetchKeys: Object.keys(request.prefetch), response }));
