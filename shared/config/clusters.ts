import type { EksClusterLookup } from '../tokens/eks-token.ts';
import type { GatehouseConfig } from './schema.ts';

/** Where each configured cluster lives in EKS; its EKS name defaults to its Gatehouse name. */
export function eksClusterLookup(config: GatehouseConfig): EksClusterLookup {
  const byName = new Map(
    config.clusters.map((cluster) => [
      cluster.name,
      { region: cluster.region, eksClusterName: cluster.eksClusterName ?? cluster.name },
    ]),
  );
  return (name) => byName.get(name);
}
