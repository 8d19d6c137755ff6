/**
 * The EKS access policies the test configurations give their access levels. A module of its own so that a harness
 * importing them (the relay's, which the relay bench runs) does not load the whole local control plane with them.
 */
export const VIEW_POLICY_ARN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
export const EDIT_POLICY_ARN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';
