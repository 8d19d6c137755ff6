/**
 * The relay's pure stages: the grant's scope, the headers sent upstream and the Accept negotiation, and how a response
 * is masked by its format.
 */
import { describe, expect, it } from 'vitest';
import { parseRequestInfo } from '#shared/k8s/request-info.ts';
import { checkGrantScope } from '#shared/relay/grant-scope.ts';
import { responseFormat } from '#shared/relay/response-format.ts';
import { hasClientImpersonation, negotiateAccept, upstreamRequestHeaders } from '#shared/relay/upstream-headers.ts';

const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const EDIT = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';
const view = { namespaces: ['claims'], access: 'view', accessPolicyArn: VIEW };
const edit = { namespaces: ['claims'], access: 'edit', accessPolicyArn: EDIT };

function scope(method: string, url: string, grant = view) {
  return checkGrantScope(parseRequestInfo(method, url), method, grant);
}

describe('grant scope', () => {
  it.each([
    ['GET', '/api/v1/namespaces/claims/pods', view],
    ['GET', '/api/v1/namespaces/claims/pods?watch=1', view],
    ['GET', '/api/v1/namespaces/claims/pods/web/log?follow=true', view],
    ['GET', '/api/v1/namespaces/claims', view],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', view],
    ['GET', '/version', view],
    ['GET', '/apis/apps/v1', view],
    ['GET', '/openapi/v3/apis/apps/v1', view],
    ['DELETE', '/api/v1/namespaces/claims/configmaps/settings', edit],
    ['POST', '/api/v1/namespaces/claims/pods/web/exec?command=id', edit],
  ])('allows %s %s inside the grant', (method, url, grant) => {
    expect(scope(method, url, grant)).toEqual({ inScope: true, needsPermit: false });
  });

  it.each([
    ['GET', '/api/v1/namespaces/intake/pods', view, 'namespace intake is outside the grant (namespaces claims)'],
    ['GET', '/api/v1/pods', view, 'list on cluster-scoped pods is outside the grant (namespaces claims)'],
    ['GET', '/api/v1/nodes', view, 'list on cluster-scoped nodes is outside the grant (namespaces claims)'],
    ['DELETE', '/api/v1/namespaces/claims/pods/web', view, 'delete is not allowed by access level view'],
    [
      'POST',
      '/api/v1/namespaces/claims/pods/web/exec',
      view,
      'exec needs an access level that may change pods; the grant has view',
    ],
    ['GET', '/metrics', view, '/metrics is not a Kubernetes API resource path the relay forwards'],
    ['POST', '/version', view, '/version is not a Kubernetes API resource path the relay forwards'],
    ['OPTIONS', '/api/v1/namespaces/claims/pods', view, 'the method OPTIONS is not a Kubernetes API verb'],
  ])('refuses %s %s', (method, url, grant, reason) => {
    expect(scope(method, url, grant)).toEqual({ inScope: false, reason });
  });

  it.each([
    ['POST', '/api/v1/namespaces/claims/pods/web/attach'],
    ['POST', '/api/v1/namespaces/claims/pods/web/portforward'],
    ['GET', '/api/v1/namespaces/claims/pods/web/proxy/metrics'],
    ['GET', '/api/v1/namespaces/claims/services/db:5432/proxy/'],
    ['GET', '/api/v1/proxy/namespaces/claims/pods/web'],
  ])('marks %s %s as needing a permit', (method, url) => {
    expect(scope(method, url, edit)).toEqual({ inScope: true, needsPermit: true });
  });
});

describe('upstream headers', () => {
  it('drops credentials, impersonation and hop-by-hop headers and adds the relay’s impersonation', () => {
    const headers = upstreamRequestHeaders(
      {
        authorization: 'Bearer agent',
        'impersonate-user': 'system:admin',
        'Impersonate-Group': 'system:masters',
        'impersonate-extra-scopes': 'x',
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': '1',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic x',
        te: 'trailers',
        cookie: 'a=b',
        'x-forwarded-for': '10.0.0.1',
        'content-type': 'application/json',
        'user-agent': 'kubectl/v1.32',
        'accept-encoding': 'br',
      },
      { user: 'gatehouse:agent-1', groups: ['gatehouse:edit'], extra: { 'gatehouse.io/grant': 'g-1' } },
      'application/json',
    );
    expect(headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'kubectl/v1.32',
      'impersonate-user': 'gatehouse:agent-1',
      'impersonate-group': ['gatehouse:edit'],
      'impersonate-extra-gatehouse.io%2Fgrant': 'g-1',
      accept: 'application/json',
      'accept-encoding': 'identity',
    });
  });

  it('notices client impersonation', () => {
    expect(hasClientImpersonation({ 'Impersonate-User': 'x' })).toBe(true);
    expect(hasClientImpersonation({ authorization: 'x' })).toBe(false);
  });

  it.each([
    [undefined, 'application/json'],
    ['application/json', 'application/json'],
    [
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      'application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json',
    ],
    ['application/vnd.kubernetes.protobuf,application/json', 'application/json'],
    ['application/vnd.kubernetes.protobuf;q=1, */*;q=0.1', 'application/json'],
    ['application/vnd.kubernetes.protobuf', undefined],
    ['application/yaml', undefined],
    ['application/json;q=0, application/vnd.kubernetes.protobuf', undefined],
  ])('negotiates Accept %s to %s', (accept, negotiated) => {
    expect(negotiateAccept(accept)).toBe(negotiated);
  });
});

describe('response formats', () => {
  const list = parseRequestInfo('GET', '/api/v1/namespaces/claims/pods');
  const watch = parseRequestInfo('GET', '/api/v1/namespaces/claims/pods?watch=1');
  const log = parseRequestInfo('GET', '/api/v1/namespaces/claims/pods/web/log?follow=true');
  it.each([
    [list, 'GET', 200, { 'content-type': 'application/json' }, { kind: 'json' }],
    [watch, 'GET', 200, { 'content-type': 'application/json' }, { kind: 'watch' }],
    [list, 'GET', 200, { 'content-type': 'application/json;stream=watch' }, { kind: 'watch' }],
    [watch, 'GET', 403, { 'content-type': 'application/json' }, { kind: 'json' }],
    [log, 'GET', 200, { 'content-type': 'text/plain' }, { kind: 'text' }],
    [list, 'HEAD', 200, { 'content-type': 'application/json' }, { kind: 'empty' }],
    [list, 'GET', 204, {}, { kind: 'empty' }],
    [list, 'GET', 200, { 'content-length': '0' }, { kind: 'empty' }],
  ])('masks %#', (info, method, status, headers, format) => {
    expect(responseFormat(info, method, status, headers)).toEqual(format);
  });

  it.each([
    [
      { 'content-type': 'application/vnd.kubernetes.protobuf' },
      'the API server answered with application/vnd.kubernetes.protobuf, which the relay cannot inspect',
    ],
    [
      { 'content-type': 'application/json', 'content-encoding': 'br' },
      'the API server answered with content encoding br, which the relay cannot inspect',
    ],
    [
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      'the API server answered with content encoding gzip, which the relay cannot inspect',
    ],
    [{}, 'the API server answered without a content type'],
  ])('refuses what it cannot inspect: %o', (headers, reason) => {
    expect(responseFormat(list, 'GET', 200, headers)).toEqual({ kind: 'refuse', reason });
  });
});
