/**
 * Parts the test configurations (and the benchmarks') share: the EKS access policies of their access levels and the
 * GitHub Actions issuer. A module of its own so that a harness importing them (the relay's, which the relay bench runs)
 * does not load the whole local control plane with them.
 */
export const VIEW_POLICY_ARN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
export const EDIT_POLICY_ARN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';

/** GitHub Actions' OIDC issuer, with Gatehouse's audience. */
export const GITHUB_ACTIONS_ISSUER = {
  name: 'github-actions',
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'gatehouse',
  kind: 'github-actions',
} as const;
