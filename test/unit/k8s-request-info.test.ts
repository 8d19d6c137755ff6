/**
 * Kubernetes request parsing: parseRequestInfo resolves a request as the apiserver's RequestInfoFactory does (expected
 * values worked out from k8s.io/apiserver/pkg/endpoints/request/requestinfo.go and the apimachinery query, label- and
 * field-selector parsers it calls), and checkRequestTarget refuses every target the relay could not authorize
 * unambiguously.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidRequestTargetError,
  MAX_REQUEST_PATH_LENGTH,
  RequestInfoError,
  checkRequestTarget,
  parseRequestInfo,
} from '../../shared/k8s/request-info.ts';
import type { RequestInfo } from '../../shared/k8s/request-info.ts';

const EMPTY: RequestInfo = {
  isResourceRequest: false,
  path: '',
  verb: '',
  apiPrefix: '',
  apiGroup: '',
  apiVersion: '',
  namespace: '',
  resource: '',
  subresource: '',
  name: '',
  parts: [],
  fieldSelector: '',
  labelSelector: '',
};

interface Row {
  behaviour: string;
  method: string;
  url: string;
  expected: RequestInfo;
}

/** A resource request; `path` defaults to the target's path, every field not given to empty. */
function resource(behaviour: string, method: string, url: string, fields: Partial<RequestInfo>): Row {
  const path = url.split('?')[0] ?? '';
  return { behaviour, method, url, expected: { ...EMPTY, isResourceRequest: true, path, ...fields } };
}

function nonResource(behaviour: string, method: string, url: string, verb: string, path = url.split('?')[0]): Row {
  return { behaviour, method, url, expected: { ...EMPTY, path: path ?? '', verb } };
}

const core = { apiPrefix: 'api', apiVersion: 'v1' };
const apps = { apiPrefix: 'apis', apiGroup: 'apps', apiVersion: 'v1' };
const pod = { ...core, namespace: 'default', resource: 'pods', name: 'web' };
const pods = { ...core, namespace: 'default', resource: 'pods', parts: ['pods'] };

const verbsAndScopes: Row[] = [
  resource('GET on a named core object is get', 'GET', '/api/v1/namespaces/default/pods/web', {
    ...pod,
    verb: 'get',
    parts: ['pods', 'web'],
  }),
  resource('GET on a namespaced collection is list', 'GET', '/api/v1/namespaces/default/pods', {
    ...pods,
    verb: 'list',
  }),
  resource('GET on a collection across namespaces is a cluster-wide list', 'GET', '/api/v1/pods', {
    ...core,
    verb: 'list',
    resource: 'pods',
    parts: ['pods'],
  }),
  resource('GET on a cluster-scoped object has no namespace', 'GET', '/api/v1/nodes/node-1', {
    ...core,
    verb: 'get',
    resource: 'nodes',
    name: 'node-1',
    parts: ['nodes', 'node-1'],
  }),
  resource('a grouped API carries its group', 'GET', '/apis/apps/v1/namespaces/default/deployments/web', {
    ...apps,
    verb: 'get',
    namespace: 'default',
    resource: 'deployments',
    name: 'web',
    parts: ['deployments', 'web'],
  }),
  resource('a grouped cluster-scoped collection is list', 'GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiPrefix: 'apis',
    apiGroup: 'rbac.authorization.k8s.io',
    apiVersion: 'v1',
    verb: 'list',
    resource: 'clusterroles',
    parts: ['clusterroles'],
  }),
  resource('HEAD on a named object is get', 'HEAD', '/api/v1/namespaces/default/pods/web', {
    ...pod,
    verb: 'get',
    parts: ['pods', 'web'],
  }),
  resource('HEAD on a collection is list', 'HEAD', '/api/v1/namespaces/default/pods', { ...pods, verb: 'list' }),
  resource('POST on a collection is create', 'POST', '/api/v1/namespaces/default/pods', { ...pods, verb: 'create' }),
  resource('PUT is update', 'PUT', '/api/v1/namespaces/default/pods/web', {
    ...pod,
    verb: 'update',
    parts: ['pods', 'web'],
  }),
  resource('PATCH is patch', 'PATCH', '/apis/apps/v1/namespaces/default/deployments/web', {
    ...apps,
    verb: 'patch',
    namespace: 'default',
    resource: 'deployments',
    name: 'web',
    parts: ['deployments', 'web'],
  }),
  resource('DELETE on a named object is delete', 'DELETE', '/api/v1/namespaces/default/pods/web', {
    ...pod,
    verb: 'delete',
    parts: ['pods', 'web'],
  }),
  resource('DELETE on a collection is deletecollection', 'DELETE', '/api/v1/namespaces/default/pods', {
    ...pods,
    verb: 'deletecollection',
  }),
  resource(
    'deletecollection keeps its selectors and takes no name from a metadata.name field selector',
    'DELETE',
    '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb',
    { ...pods, verb: 'deletecollection', labelSelector: 'app=web', fieldSelector: 'metadata.name=web' },
  ),
  resource('a method the apiserver does not map (OPTIONS) has the empty verb', 'OPTIONS', '/api/v1/pods', {
    ...core,
    resource: 'pods',
    parts: ['pods'],
  }),
  resource(
    'methods are case-sensitive: a lower-case get has the empty verb',
    'get',
    '/api/v1/namespaces/default/pods',
    {
      ...pods,
    },
  ),
];

const subresources: Row[] = [
  resource(
    'POST on pods/x/eviction is create of the eviction subresource',
    'POST',
    '/api/v1/namespaces/default/pods/web/eviction',
    {
      ...pod,
      verb: 'create',
      subresource: 'eviction',
      parts: ['pods', 'web', 'eviction'],
    },
  ),
  resource(
    'PUT on pods/x/status is update of the status subresource',
    'PUT',
    '/api/v1/namespaces/default/pods/web/status',
    {
      ...pod,
      verb: 'update',
      subresource: 'status',
      parts: ['pods', 'web', 'status'],
    },
  ),
  resource(
    'GET on pods/x/log is get of the log subresource',
    'GET',
    '/api/v1/namespaces/default/pods/web/log?follow=true',
    {
      ...pod,
      verb: 'get',
      subresource: 'log',
      parts: ['pods', 'web', 'log'],
    },
  ),
  resource(
    'POST on pods/x/exec is create of exec',
    'POST',
    '/api/v1/namespaces/default/pods/web/exec?command=ls&stdin=true',
    {
      ...pod,
      verb: 'create',
      subresource: 'exec',
      parts: ['pods', 'web', 'exec'],
    },
  ),
  resource(
    'GET on pods/x/exec (the WebSocket upgrade) is get of exec',
    'GET',
    '/api/v1/namespaces/default/pods/web/exec?command=sh',
    {
      ...pod,
      verb: 'get',
      subresource: 'exec',
      parts: ['pods', 'web', 'exec'],
    },
  ),
  resource(
    'POST on pods/x/attach is create of attach',
    'POST',
    '/api/v1/namespaces/default/pods/web/attach?stdout=true',
    {
      ...pod,
      verb: 'create',
      subresource: 'attach',
      parts: ['pods', 'web', 'attach'],
    },
  ),
  resource(
    'POST on pods/x/portforward is create of portforward',
    'POST',
    '/api/v1/namespaces/default/pods/web/portforward',
    {
      ...pod,
      verb: 'create',
      subresource: 'portforward',
      parts: ['pods', 'web', 'portforward'],
    },
  ),
  resource(
    'GET on pods/x/portforward is get of portforward',
    'GET',
    '/api/v1/namespaces/default/pods/web/portforward?ports=8080',
    {
      ...pod,
      verb: 'get',
      subresource: 'portforward',
      parts: ['pods', 'web', 'portforward'],
    },
  ),
  resource(
    'pods/x/proxy/<rest> is the proxy subresource with the rest in parts',
    'GET',
    '/api/v1/namespaces/default/pods/web/proxy/metrics/v2',
    {
      ...pod,
      verb: 'get',
      subresource: 'proxy',
      parts: ['pods', 'web', 'proxy', 'metrics', 'v2'],
    },
  ),
  resource(
    'a service proxy name may hold a scheme and port',
    'POST',
    '/api/v1/namespaces/default/services/https:web:443/proxy/hook',
    {
      ...core,
      verb: 'create',
      namespace: 'default',
      resource: 'services',
      name: 'https:web:443',
      subresource: 'proxy',
      parts: ['services', 'https:web:443', 'proxy', 'hook'],
    },
  ),
];

const legacyPrefixes: Row[] = [
  resource(
    'the legacy /proxy/ prefix is the proxy verb, with the rest of the path in parts, not a subresource',
    'GET',
    '/api/v1/proxy/namespaces/default/pods/web/metrics',
    {
      ...pod,
      verb: 'proxy',
      parts: ['pods', 'web', 'metrics'],
    },
  ),
  resource('the legacy /proxy/ prefix on a cluster-scoped object', 'GET', '/api/v1/proxy/nodes/node-1/stats/summary', {
    ...core,
    verb: 'proxy',
    resource: 'nodes',
    name: 'node-1',
    parts: ['nodes', 'node-1', 'stats', 'summary'],
  }),
  resource(
    'the legacy /proxy/ prefix is proxy whatever the method',
    'DELETE',
    '/api/v1/proxy/namespaces/default/pods/web',
    {
      ...pod,
      verb: 'proxy',
      parts: ['pods', 'web'],
    },
  ),
  resource(
    'the legacy /watch/ prefix on a collection is watch, and does not report selectors',
    'GET',
    '/api/v1/watch/namespaces/default/pods?labelSelector=app%3Dweb',
    {
      ...pods,
      verb: 'watch',
    },
  ),
  resource(
    'the legacy /watch/ prefix on a named object is watch with the name',
    'GET',
    '/api/v1/watch/namespaces/default/pods/web',
    {
      ...pod,
      verb: 'watch',
      parts: ['pods', 'web'],
    },
  ),
  resource('the legacy /watch/ prefix on a grouped cluster-wide collection', 'GET', '/apis/apps/v1/watch/deployments', {
    ...apps,
    verb: 'watch',
    resource: 'deployments',
    parts: ['deployments'],
  }),
];

const list = (fields: Partial<RequestInfo>): Partial<RequestInfo> => ({
  ...pods,
  ...fields,
  path: '/api/v1/namespaces/default/pods',
});
const podsUrl = (query: string): string => `/api/v1/namespaces/default/pods?${query}`;

const watchQueries: Row[] = [
  ...[
    ['watch=1', 'watch'],
    ['watch=true', 'watch'],
    ['watch=TRUE', 'watch'],
    ['watch=yes', 'watch'],
    ['watch=', 'watch'],
    ['watch', 'watch'],
    ['watch=0', 'list'],
    ['watch=false', 'list'],
    ['watch=False', 'list'],
    ['watch=0&watch=1', 'list'],
    ['watch=1&watch=0', 'watch'],
  ].map(([query = '', verb = '']) =>
    resource(`?${query} on a collection is ${verb}`, 'GET', podsUrl(query), list({ verb })),
  ),
  resource('?watch=1 on a named object stays get', 'GET', '/api/v1/namespaces/default/pods/web?watch=1', {
    ...pod,
    verb: 'get',
    parts: ['pods', 'web'],
  }),
  resource(
    'a pair with a ; is dropped, as Go does (Go 1.17+), so ?watch=1;x=y is list',
    'GET',
    podsUrl('watch=1;x=y'),
    list({ verb: 'list' }),
  ),
  resource(
    'a pair with a malformed escape is dropped, so the next watch value counts',
    'GET',
    podsUrl('watch=%zz&watch=1'),
    list({ verb: 'watch' }),
  ),
  resource(
    'watch=falſe (long s) folds to false when the list options decode',
    'GET',
    podsUrl('watch=fal%C5%BFe'),
    list({ verb: 'list' }),
  ),
  resource(
    'watch=falſe is a watch when another list option fails to decode (ToLower, not EqualFold)',
    'GET',
    podsUrl('watch=fal%C5%BFe&limit=ten'),
    list({ verb: 'watch' }),
  ),
  resource(
    'watch=FALSE is list even when the list options fail to decode',
    'GET',
    podsUrl('watch=FALSE&limit=ten'),
    list({ verb: 'list' }),
  ),
];

const selectors: Row[] = [
  resource(
    'a list keeps the raw, decoded label and field selectors',
    'GET',
    podsUrl('labelSelector=app%3Dweb%2Ctier+in+(a%2Cb)&fieldSelector=status.phase%3DRunning'),
    list({
      verb: 'list',
      labelSelector: 'app=web,tier in (a,b)',
      fieldSelector: 'status.phase=Running',
    }),
  ),
  resource(
    'a watch keeps its selectors',
    'GET',
    podsUrl('watch=1&labelSelector=app%3Dweb'),
    list({ verb: 'watch', labelSelector: 'app=web' }),
  ),
  resource(
    'only the first selector value is kept',
    'GET',
    podsUrl('labelSelector=a%3D1&labelSelector=b%3D2'),
    list({ verb: 'list', labelSelector: 'a=1' }),
  ),
  resource(
    'a get does not report selectors',
    'GET',
    '/api/v1/namespaces/default/pods/web?fieldSelector=metadata.name%3Dother',
    {
      ...pod,
      verb: 'get',
      parts: ['pods', 'web'],
    },
  ),
  resource(
    'a metadata.name field selector on a list becomes the name',
    'GET',
    podsUrl('fieldSelector=metadata.name%3Dweb'),
    list({
      verb: 'list',
      name: 'web',
      fieldSelector: 'metadata.name=web',
    }),
  ),
  resource(
    'a metadata.name field selector on a watch becomes the name',
    'GET',
    '/api/v1/namespaces/default/secrets?watch=true&fieldSelector=metadata.name%3Ddb',
    {
      ...core,
      verb: 'watch',
      namespace: 'default',
      resource: 'secrets',
      name: 'db',
      parts: ['secrets'],
      fieldSelector: 'metadata.name=db',
    },
  ),
  resource(
    'metadata.name==x is an exact match too',
    'GET',
    podsUrl('fieldSelector=metadata.name%3D%3Dweb'),
    list({
      verb: 'list',
      name: 'web',
      fieldSelector: 'metadata.name==web',
    }),
  ),
  resource(
    'metadata.name!=x names nothing',
    'GET',
    podsUrl('fieldSelector=metadata.name!%3Dweb'),
    list({
      verb: 'list',
      fieldSelector: 'metadata.name!=web',
    }),
  ),
  resource(
    'metadata.name beside other terms still names the object',
    'GET',
    podsUrl('fieldSelector=status.phase%3DRunning,metadata.name%3Dweb'),
    list({
      verb: 'list',
      name: 'web',
      fieldSelector: 'status.phase=Running,metadata.name=web',
    }),
  ),
  resource(
    'of two metadata.name terms the one first in sorted order wins',
    'GET',
    podsUrl('fieldSelector=metadata.name%3Db,metadata.name%3Da'),
    list({
      verb: 'list',
      name: 'a',
      fieldSelector: 'metadata.name=b,metadata.name=a',
    }),
  ),
  resource(
    'sorting is by bytes, so "==b" sorts before "=a"',
    'GET',
    podsUrl('fieldSelector=metadata.name%3D%3Db,metadata.name%3Da'),
    list({
      verb: 'list',
      name: 'b',
      fieldSelector: 'metadata.name==b,metadata.name=a',
    }),
  ),
  resource(
    'an escaped comma is part of the value',
    'GET',
    podsUrl('fieldSelector=spec.nodeName%3Da%5C%2Cb,metadata.name%3Dweb'),
    list({
      verb: 'list',
      name: 'web',
      fieldSelector: 'spec.nodeName=a\\,b,metadata.name=web',
    }),
  ),
  ...[
    ['a name with %', 'metadata.name%3Da%25b', 'metadata.name=a%b'],
    ['a name with /', 'metadata.name%3Da/b', 'metadata.name=a/b'],
    ['the name ..', 'metadata.name%3D..', 'metadata.name=..'],
    ['a malformed field selector (unescaped =)', 'metadata.name%3Da%3Db', 'metadata.name=a=b'],
    ['a field selector term without an operator', 'metadata.name%3Dweb,junk', 'metadata.name=web,junk'],
  ].map(([what = '', query = '', raw = '']) =>
    resource(
      `${what} in metadata.name is not taken as the name`,
      'GET',
      podsUrl(`fieldSelector=${query}`),
      list({ verb: 'list', fieldSelector: raw }),
    ),
  ),
  ...[
    ['an invalid label selector', 'labelSelector=app%3D%3D%3Dweb', { labelSelector: 'app===web' }],
    ['a label selector with a bad key', 'labelSelector=-app', { labelSelector: '-app' }],
    ['a set-based label selector missing its )', 'labelSelector=tier+in+(a', { labelSelector: 'tier in (a' }],
    ['a non-integer gt value', 'labelSelector=replicas%3E%3Dtwo', { labelSelector: 'replicas>=two' }],
    ['a non-integer limit', 'limit=ten', {}],
    ['an out-of-range timeoutSeconds', 'timeoutSeconds=9223372036854775808', {}],
  ].map(([what, query, fields]) =>
    resource(
      `${String(what)} beside metadata.name means no name (the list options do not decode)`,
      'GET',
      podsUrl(`${String(query)}&fieldSelector=metadata.name%3Dweb`),
      list({
        verb: 'list',
        fieldSelector: 'metadata.name=web',
        ...(fields as Partial<RequestInfo>),
      }),
    ),
  ),
  ...[
    'app',
    '!app',
    'app=web,tier!=db',
    'app==web',
    'tier in (a,b),env notin (prod)',
    'tier in (),x in (,a,)',
    'in in (in,notin)',
    'example.com/app=web',
    'replicas>2,replicas<10',
    '  app = web , tier ',
  ].map((selector) =>
    resource(
      `the valid label selector "${selector}" lets metadata.name name the object`,
      'GET',
      podsUrl(
        `labelSelector=${encodeURIComponent(selector)}&fieldSelector=metadata.name%3Dweb&limit=500&timeoutSeconds=30`,
      ),
      list({
        verb: 'list',
        name: 'web',
        fieldSelector: 'metadata.name=web',
        labelSelector: selector,
      }),
    ),
  ),
];

const namespaces: Row[] = [
  resource('GET /namespaces is a list of namespaces', 'GET', '/api/v1/namespaces', {
    ...core,
    verb: 'list',
    resource: 'namespaces',
    parts: ['namespaces'],
  }),
  resource(
    'GET /namespaces/{name} is the namespace resource, named and in itself',
    'GET',
    '/api/v1/namespaces/team-a',
    {
      ...core,
      verb: 'get',
      namespace: 'team-a',
      resource: 'namespaces',
      name: 'team-a',
      parts: ['namespaces', 'team-a'],
    },
  ),
  resource('DELETE /namespaces/{name} is delete of the namespace', 'DELETE', '/api/v1/namespaces/team-a', {
    ...core,
    verb: 'delete',
    namespace: 'team-a',
    resource: 'namespaces',
    name: 'team-a',
    parts: ['namespaces', 'team-a'],
  }),
  resource(
    '/namespaces/{name}/finalize is a subresource of the namespace',
    'PUT',
    '/api/v1/namespaces/team-a/finalize',
    {
      ...core,
      verb: 'update',
      namespace: 'team-a',
      resource: 'namespaces',
      name: 'team-a',
      subresource: 'finalize',
      parts: ['namespaces', 'team-a', 'finalize'],
    },
  ),
  resource('/namespaces/{name}/status is a subresource of the namespace', 'GET', '/api/v1/namespaces/team-a/status', {
    ...core,
    verb: 'get',
    namespace: 'team-a',
    resource: 'namespaces',
    name: 'team-a',
    subresource: 'status',
    parts: ['namespaces', 'team-a', 'status'],
  }),
  resource('/namespaces/{ns}/{resource} is a namespaced resource', 'GET', '/api/v1/namespaces/team-a/configmaps', {
    ...core,
    verb: 'list',
    namespace: 'team-a',
    resource: 'configmaps',
    parts: ['configmaps'],
  }),
];

const nonResourcePaths: Row[] = [
  nonResource('/version is a non-resource get', 'GET', '/version', 'get'),
  nonResource('/healthz is a non-resource get', 'GET', '/healthz', 'get'),
  nonResource('HEAD on a non-resource path is the lower-cased method, head', 'HEAD', '/healthz', 'head'),
  nonResource('/openapi/v3 is non-resource', 'GET', '/openapi/v3', 'get'),
  nonResource(
    '/openapi/v3/apis/apps/v1 is non-resource (openapi is not an API prefix)',
    'GET',
    '/openapi/v3/apis/apps/v1',
    'get',
  ),
  nonResource('/apis (discovery) is non-resource', 'GET', '/apis', 'get'),
  nonResource('/apis/{group} is non-resource', 'GET', '/apis/apps', 'get'),
  {
    behaviour: '/apis/{group}/{version} is non-resource, though the apiserver has already set its prefix',
    method: 'GET',
    url: '/apis/apps/v1',
    expected: { ...EMPTY, path: '/apis/apps/v1', verb: 'get', apiPrefix: 'apis' },
  },
  nonResource('/api is non-resource', 'GET', '/api', 'get'),
  nonResource('/api/{version} is non-resource, with the lower-cased method', 'POST', '/api/v1', 'post'),
  nonResource('/ is non-resource', 'GET', '/', 'get'),
  nonResource('/metrics is non-resource', 'GET', '/metrics', 'get'),
  nonResource(
    'prefixes are case-sensitive: /API/v1/... is not a resource request for secrets',
    'GET',
    '/API/v1/namespaces/x/secrets',
    'get',
  ),
  nonResource(
    'prefixes are case-sensitive: /Apis/... is not a resource request',
    'DELETE',
    '/Apis/apps/v1/namespaces/x/deployments/web',
    'delete',
  ),
];

const pathQuirks: Row[] = [
  resource(
    'the path is percent-decoded before it is split, so %2F splits a segment',
    'GET',
    '/api/v1/namespaces/a%2Fb/pods',
    {
      ...core,
      path: '/api/v1/namespaces/a/b/pods',
      verb: 'get',
      namespace: 'a',
      resource: 'b',
      name: 'pods',
      parts: ['b', 'pods'],
    },
  ),
  resource('the path is decoded once: %252F is a literal %2F', 'GET', '/api/v1/namespaces/a%252Fb/pods', {
    ...core,
    path: '/api/v1/namespaces/a%2Fb/pods',
    verb: 'list',
    namespace: 'a%2Fb',
    resource: 'pods',
    parts: ['pods'],
  }),
  resource('dot segments are not resolved', 'GET', '/api/v1/namespaces/default/pods/../secrets', {
    ...core,
    verb: 'get',
    namespace: 'default',
    resource: 'pods',
    name: '..',
    subresource: 'secrets',
    parts: ['pods', '..', 'secrets'],
  }),
  resource('an inner empty segment is kept and shifts the parts', 'GET', '/api/v1/namespaces/default//pods', {
    ...core,
    verb: 'get',
    namespace: 'default',
    resource: '',
    name: 'pods',
    parts: ['', 'pods'],
  }),
  resource('outer slashes are trimmed', 'GET', '//api/v1/pods/', {
    ...core,
    verb: 'list',
    resource: 'pods',
    parts: ['pods'],
  }),
  resource('a # is data in a request target, not a fragment', 'GET', '/api/v1/namespaces/default/pods#x', {
    ...core,
    verb: 'list',
    namespace: 'default',
    resource: 'pods#x',
    parts: ['pods#x'],
  }),
  resource('+ in the path is a plus, not a space', 'GET', '/api/v1/namespaces/default/configmaps/a+b', {
    ...core,
    verb: 'get',
    namespace: 'default',
    resource: 'configmaps',
    name: 'a+b',
    parts: ['configmaps', 'a+b'],
  }),
];

describe('parseRequestInfo', () => {
  describe.each([
    ['verbs, groups and scopes', verbsAndScopes],
    ['subresources', subresources],
    ['legacy /proxy/ and /watch/ prefixes', legacyPrefixes],
    ['the watch query', watchQueries],
    ['selectors and the metadata.name field selector', selectors],
    ['namespaces', namespaces],
    ['non-resource paths', nonResourcePaths],
    ['path decoding and splitting, as the apiserver does', pathQuirks],
  ])('%s', (_group, rows) => {
    it.each(rows)('$behaviour', ({ method, url, expected }) => {
      expect(parseRequestInfo(method, url)).toEqual(expected);
    });
  });

  it.each([
    ['/api/v1/watch', 'the /watch/ prefix'],
    ['/api/v1/proxy', 'the /proxy/ prefix'],
    ['/apis/apps/v1/watch/', 'the grouped /watch/ prefix'],
  ])('%s (%s with nothing after it) is the apiserver error RequestInfoError', (url) => {
    expect(() => parseRequestInfo('GET', url)).toThrow(RequestInfoError);
  });

  it.each([
    ['an absolute URL', 'http://kubernetes.default/api/v1/pods'],
    ['the asterisk form', '*'],
    ['a path without a leading slash', 'api/v1/pods'],
    ['a control character', '/api/v1/pods\n'],
    ['a malformed escape in the path', '/api/v1/namespaces/a%zz/pods'],
    ['a truncated escape in the path', '/api/v1/pods%2'],
    ['an escape in the path that is not UTF-8', '/api/v1/namespaces/%ff/pods'],
    ['an escape in the query that is not UTF-8', '/api/v1/pods?continue=%ff'],
  ])('%s is refused with InvalidRequestTargetError, as Go refuses it before the apiserver', (_what, url) => {
    expect(() => parseRequestInfo('GET', url)).toThrow(InvalidRequestTargetError);
  });

  it('decodes UTF-8 escapes in the path', () => {
    expect(parseRequestInfo('GET', '/api/v1/namespaces/default/configmaps/caf%C3%A9').name).toBe('café');
  });

  it('keeps no part of the target in its error messages', () => {
    const secret = 'tok3n-SECRET';
    for (const url of [`/api/v1/pods?x=${secret}%ff`, `/api/v1/${secret}%zz`, `http://${secret}/api`]) {
      expect(() => parseRequestInfo('GET', url)).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining(secret) }),
      );
    }
  });
});

describe('checkRequestTarget', () => {
  it.each([
    ['the root', '/', '/'],
    ['a discovery path', '/apis/apps/v1', '/apis/apps/v1'],
    ['a named object', '/api/v1/namespaces/default/pods/web', '/api/v1/namespaces/default/pods/web'],
    [
      'a proxy subresource with its path',
      '/api/v1/namespaces/default/pods/web/proxy/metrics',
      '/api/v1/namespaces/default/pods/web/proxy/metrics',
    ],
    [
      'a path with a query',
      '/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb',
      '/api/v1/namespaces/default/pods',
    ],
    [
      'an upper-case prefix (left to parseRequestInfo, which calls it non-resource)',
      '/API/v1/namespaces/x/secrets',
      '/API/v1/namespaces/x/secrets',
    ],
    [
      'a path of exactly the maximum length',
      `/${'a'.repeat(MAX_REQUEST_PATH_LENGTH - 1)}`,
      `/${'a'.repeat(MAX_REQUEST_PATH_LENGTH - 1)}`,
    ],
    ['an empty query', '/api/v1/pods?', '/api/v1/pods'],
  ])('accepts %s', (_what, url, path) => {
    const result = checkRequestTarget(url);
    expect(result).toEqual({ ok: true, path, query: expect.any(URLSearchParams) });
  });

  it('returns the query as URLSearchParams, every value of a repeated key in order', () => {
    const result = checkRequestTarget(
      '/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo+hi&stdin=true',
    );
    expect(result.ok && result.query.getAll('command')).toEqual(['sh', '-c', 'echo hi']);
    expect(result.ok && result.query.get('stdin')).toBe('true');
  });

  it('accepts UTF-8 escapes in the query', () => {
    const result = checkRequestTarget('/api/v1/pods?labelSelector=owner%3Dcaf%C3%A9');
    expect(result.ok && result.query.get('labelSelector')).toBe('owner=café');
  });

  const SECRET = 'SECRET-t0ken';
  it.each([
    ['an absolute URL', `http://kubernetes.default/api/v1/pods?x=${SECRET}`, /origin form/],
    ['the asterisk form', '*', /origin form/],
    ['the authority form', 'kubernetes.default:443', /origin form/],
    ['a path without a leading slash', `api/v1/pods?x=${SECRET}`, /origin form/],
    ['the empty target', '', /origin form/],
    ['an encoded slash (%2F)', '/api/v1/namespaces/a%2Fb/pods', /percent-encoding in the path/],
    ['a double-encoded slash (%252F)', '/api/v1/namespaces/a%252Fb/pods', /percent-encoding in the path/],
    ['encoded dots (%2e%2e)', '/api/v1/namespaces/default/%2e%2e/secrets', /percent-encoding in the path/],
    ['an encoded letter (%73ecrets)', '/api/v1/namespaces/default/%73ecrets', /percent-encoding in the path/],
    ['a .. segment', '/api/v1/namespaces/default/pods/../secrets', /dot segment/],
    ['a . segment', '/api/v1/./namespaces/default/secrets', /dot segment/],
    ['a trailing .. segment', '/api/v1/namespaces/default/pods/..', /dot segment/],
    ['an empty segment', '/api/v1//pods', /empty path segment/],
    ['a leading double slash', '//api/v1/pods', /empty path segment/],
    ['a trailing slash', '/api/v1/pods/', /trailing slash/],
    ['a backslash', '/api/v1/namespaces/default\\secrets', /backslash/],
    ['a fragment', `/api/v1/pods#${SECRET}`, /fragment/],
    ['a newline', '/api/v1/pods\r\nX-Injected: 1', /control character/],
    ['a NUL', '/api/v1/pods\u0000', /control character/],
    ['a tab', '/api/v1/\tpods', /control character/],
    ['DEL', '/api/v1/pods\u007f', /control character/],
    ['a space', '/api/v1/pods HTTP/1.1', /space/],
    ['a raw non-ASCII character', '/api/v1/namespaces/café/pods', /non-ASCII/],
    ['a path over the maximum length', `/${'a'.repeat(MAX_REQUEST_PATH_LENGTH)}`, /longer than 4096/],
    [
      'a ; in the query (Go drops the pair, URLSearchParams keeps it)',
      `/api/v1/pods?watch=0;watch=1&x=${SECRET}`,
      /semicolon/,
    ],
    [
      'a malformed escape in the query (Go drops the pair)',
      `/api/v1/pods?labelSelector=${SECRET}%zz&watch=1`,
      /malformed percent-encoding in the query/,
    ],
    ['a truncated escape in the query', `/api/v1/pods?x=${SECRET}%4`, /malformed percent-encoding in the query/],
    [
      'a query escape that is not UTF-8 (Go keeps the byte, URLSearchParams replaces it)',
      `/api/v1/pods?fieldSelector=metadata.name%3D${SECRET}%ff`,
      /not UTF-8/,
    ],
    [
      'an encoded control character in the query',
      `/api/v1/pods?labelSelector=a%00${SECRET}`,
      /control character in the query/,
    ],
  ])('refuses %s', (_what, url, reason) => {
    const result = checkRequestTarget(url);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason) });
    expect(result.ok || result.reason).not.toContain(SECRET);
  });

  it.each([
    '/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb%2Ctier+in+(a%2Cb)&fieldSelector=metadata.name%3Dweb',
    '/api/v1/namespaces/default/pods?watch=0&watch=1&labelSelector=&fieldSelector=a%3D1&fieldSelector=b%3D2',
    '/api/v1/pods?labelSelector=owner%3Dcaf%C3%A9&watch',
  ])('an accepted target reads the same through URLSearchParams as through the apiserver: %s', (url) => {
    const result = checkRequestTarget(url);
    const info = parseRequestInfo('GET', url);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(info.path).toBe(result.path);
    expect(info.labelSelector).toBe(result.query.get('labelSelector') ?? '');
    expect(info.fieldSelector).toBe(result.query.get('fieldSelector') ?? '');
    const watch = result.query.get('watch');
    expect(info.verb).toBe(watch !== null && watch !== '0' && watch.toLowerCase() !== 'false' ? 'watch' : 'list');
  });
});

describe('the guardrail bypass classes of issue 6', () => {
  it('percent and double encoding are refused before parsing', () => {
    for (const url of [
      '/api/v1/namespaces/default/secret%73',
      '/api/v1/namespaces/default/pods/x%252F..%252Fsecrets',
    ]) {
      expect(checkRequestTarget(url).ok).toBe(false);
    }
  });

  it('.. segments and trailing slashes are refused before parsing', () => {
    expect(checkRequestTarget('/api/v1/namespaces/default/pods/../secrets').ok).toBe(false);
    expect(checkRequestTarget('/api/v1/namespaces/default/secrets/').ok).toBe(false);
  });

  it('a case trick is a non-resource request, so a guardrail keyed on the secrets resource is not fooled', () => {
    const info = parseRequestInfo('GET', '/API/v1/namespaces/x/secrets');
    expect(info.isResourceRequest).toBe(false);
    expect(info.resource).toBe('');
    expect(info.verb).toBe('get');
  });

  it('/api/v1/proxy/... is the proxy verb, not a get of the pod', () => {
    const info = parseRequestInfo('GET', '/api/v1/proxy/namespaces/default/pods/web/secret-endpoint');
    expect(info).toMatchObject({ verb: 'proxy', resource: 'pods', name: 'web', subresource: '' });
  });

  it('?watch=1 on a collection is watch, so a guardrail that allows only list does not match', () => {
    expect(parseRequestInfo('GET', '/api/v1/namespaces/default/secrets?watch=1').verb).toBe('watch');
    expect(parseRequestInfo('GET', '/api/v1/namespaces/default/secrets?watch=false').verb).toBe('list');
  });
});
