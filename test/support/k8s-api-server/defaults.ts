/**
 * What the apiserver's defaulting, validation and the controllers would add to an object, reduced to what clients read:
 * a created pod is Running and Ready on a node with an IP (so `kubectl exec` and `logs` accept it), a deployment's status
 * follows its spec, a service gets a cluster IP, a secret's stringData becomes base64 data.
 */
import { randomInt } from 'node:crypto';
import type { KubeObject } from './store.ts';
import { meta } from './store.ts';
import { invalid } from './status.ts';
import type { ResourceDef } from './resources.ts';

type Obj = Record<string, unknown>;

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The name checks of the kinds served: DNS labels for namespaces and services, subdomains for the rest. */
export function validateObject(def: ResourceDef, object: KubeObject): void {
  const name = String(meta(object).name ?? '');
  const causes: { field: string; message: string; reason?: string }[] = [];
  const label = def.kind === 'Namespace' || def.kind === 'Service';
  if (name === '') {
    causes.push({
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
      reason: 'FieldValueRequired',
    });
  } else if (label ? !(DNS_LABEL.test(name) && name.length <= 63) : !(DNS_SUBDOMAIN.test(name) && name.length <= 253)) {
    causes.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 ${label ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-'${label ? '' : " or '.'"}, and must start and end with an alphanumeric character`,
    });
  }
  if (def.kind === 'Pod') {
    const containers = ((object.spec as Obj | undefined)?.containers ?? []) as Obj[];
    if (!Array.isArray(containers) || containers.length === 0) {
      causes.push({ field: 'spec.containers', message: 'Required value', reason: 'FieldValueRequired' });
    }
    containers.forEach((c, i) => {
      if (!c.name)
        causes.push({ field: `spec.containers[${i}].name`, message: 'Required value', reason: 'FieldValueRequired' });
      if (!c.image)
        causes.push({ field: `spec.containers[${i}].image`, message: 'Required value', reason: 'FieldValueRequired' });
    });
  }
  if (causes.length > 0) throw invalid(def.group, def.kind, name, causes);
}

/** A pod's container names, in order. */
export function containerNames(pod: KubeObject): string[] {
  return (((pod.spec as Obj | undefined)?.containers ?? []) as Obj[]).map((c) => String(c.name));
}

function podStatus(pod: KubeObject, keep: Obj | undefined): Obj {
  const started = (keep?.startTime as string | undefined) ?? now();
  const phase = (keep?.phase as string | undefined) ?? 'Running';
  const running = phase === 'Running';
  return {
    phase,
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
      type,
      status: running || type === 'PodScheduled' || type === 'Initialized' ? 'True' : 'False',
      lastTransitionTime: started,
    })),
    hostIP: '10.0.0.1',
    podIP: `10.244.${randomInt(0, 255)}.${randomInt(1, 255)}`,
    startTime: started,
    containerStatuses: (((pod.spec as Obj).containers ?? []) as Obj[]).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: running,
      restartCount: 0,
      started: running,
      state: running ? { running: { startedAt: started } } : { terminated: { exitCode: 0, reason: 'Completed' } },
    })),
    qosClass: 'BestEffort',
    ...keep,
  };
}

/**
 * Fills in defaults and status. `keepStatus` keeps a status the caller gave (the test's own store helpers do; HTTP create
 * and update do not, as the apiserver resets status outside the status subresource).
 */
export function applyDefaults(def: ResourceDef, object: KubeObject, keepStatus: Obj | undefined): void {
  const m = meta(object);
  const spec = (object.spec ?? {}) as Obj;
  switch (def.kind) {
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'], ...spec };
      m.labels = { ...(m.labels as Obj | undefined), 'kubernetes.io/metadata.name': m.name };
      object.status = { phase: 'Active', ...keepStatus };
      break;
    case 'Pod':
      spec.restartPolicy ??= 'Always';
      spec.nodeName ??= 'test-node';
      spec.dnsPolicy ??= 'ClusterFirst';
      spec.serviceAccountName ??= 'default';
      object.spec = spec;
      object.status = podStatus(object, keepStatus);
      break;
    case 'Secret': {
      if (!object.type) object.type = 'Opaque';
      const stringData = object.stringData as Record<string, string> | undefined;
      if (stringData) {
        const data = (object.data ?? {}) as Record<string, string>;
        for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
        object.data = data;
        delete object.stringData;
      }
      break;
    }
    case 'Service':
      spec.type ??= 'ClusterIP';
      if (spec.type !== 'ExternalName') {
        spec.clusterIP ??= `10.96.${randomInt(0, 255)}.${randomInt(1, 255)}`;
        spec.clusterIPs ??= [spec.clusterIP];
      }
      spec.sessionAffinity ??= 'None';
      for (const port of (spec.ports ?? []) as Obj[]) {
        port.protocol ??= 'TCP';
        port.targetPort ??= port.port;
      }
      object.spec = spec;
      object.status = keepStatus ?? { loadBalancer: {} };
      break;
    case 'Deployment': {
      spec.replicas ??= 1;
      spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
      spec.revisionHistoryLimit ??= 10;
      object.spec = spec;
      const replicas = spec.replicas;
      object.status = keepStatus ?? {
        observedGeneration: m.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: now() },
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: now() },
        ],
      };
      break;
    }
    case 'Job':
      spec.completions ??= 1;
      spec.parallelism ??= 1;
      spec.backoffLimit ??= 6;
      object.spec = spec;
      object.status = keepStatus ?? { startTime: m.creationTimestamp ?? now(), active: 1 };
      break;
    default:
      break;
  }
}
