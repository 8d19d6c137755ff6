/**
 * The approval rules, pure: which groups a request needs, who an approver is, whether they are the requester under
 * another name, which groups they count for, and where the decisions so far leave the request.
 */
import type { ApproverConfig, GatehouseConfig } from '../config/schema.ts';
import type { Principal } from '../model.ts';
import { UnknownApproverGroupError } from './errors.ts';
import type { ApprovalDecision, ApprovalRequirement } from './model.ts';

/** The part of the configuration the rules read. */
export type ApproversConfig = Pick<GatehouseConfig, 'approvers'>;

/** How a caller says who is deciding: an approver id (local page, API), a Slack user id, or an email address. */
export interface ApproverIdentity {
  approverId?: string;
  slackUserId?: string;
  email?: string;
}

/** Where the decisions so far leave a request. */
export type TallyResult = 'pending' | 'approved' | 'denied';

/**
 * The group names in `@approval("…")` annotation values: each value may list several, separated by spaces or commas.
 * Duplicates are dropped; the order of first mention is kept.
 */
export function parseApprovalGroups(values: string[]): string[] {
  const names = values.flatMap((value) => value.split(/[\s,]+/)).filter((name) => name !== '');
  return [...new Set(names)];
}

/**
 * What the request needs: every named group, each with its configured quorum, all required; it waits as long as the
 * most impatient group allows. Fails closed: no group, or a group the configuration does not define, throws
 * UnknownApproverGroupError, since nobody could ever approve.
 */
export function approvalRequirement(config: ApproversConfig, approvalGroups: string[]): ApprovalRequirement {
  const names = parseApprovalGroups(approvalGroups);
  if (names.length === 0) {
    throw new UnknownApproverGroupError('the policy asks for approval but names no approver group', []);
  }
  const unknown = names.filter((name) => !config.approvers.groups.some((group) => group.name === name));
  if (unknown.length > 0) {
    throw new UnknownApproverGroupError(
      `approver group(s) ${unknown.map((name) => `"${name}"`).join(', ')} named by a policy are not in approvers.groups`,
      unknown,
    );
  }
  const groups = names.map((name) => config.approvers.groups.find((group) => group.name === name)!);
  return {
    groups: groups.map((group) => ({ name: group.name, quorum: group.quorum })),
    timeoutSeconds: Math.min(...groups.map((group) => group.timeoutSeconds)),
  };
}

/**
 * The configured person the identity names, or undefined. Every field given must match the same person (email
 * compared case-insensitively); an identity with no field names nobody.
 */
export function findApprover(config: ApproversConfig, identity: ApproverIdentity): ApproverConfig | undefined {
  const { approverId, slackUserId, email } = identity;
  if (approverId === undefined && slackUserId === undefined && email === undefined) return undefined;
  return config.approvers.people.find(
    (person) =>
      (approverId === undefined || person.id === approverId) &&
      (slackUserId === undefined || person.slackUserId === slackUserId) &&
      (email === undefined || (person.email !== undefined && sameIgnoringCase(person.email, email))),
  );
}

/**
 * True when the approver is the requester: the requester's principal id is one of the approver's principals, their
 * email is the approver's, or the CI job was triggered by the approver's GitHub or GitLab login.
 */
export function isSelfApproval(approver: ApproverConfig, requester: Principal): boolean {
  if (approver.principals.includes(requester.id)) return true;
  if (
    approver.email !== undefined &&
    requester.email !== undefined &&
    sameIgnoringCase(approver.email, requester.email)
  ) {
    return true;
  }
  const ci = requester.ci;
  if (ci?.provider === 'github-actions' && approver.githubLogin !== undefined && ci.actor !== undefined) {
    if (sameIgnoringCase(approver.githubLogin, ci.actor)) return true;
  }
  if (ci?.provider === 'gitlab' && approver.gitlabLogin !== undefined && ci.userLogin !== undefined) {
    if (sameIgnoringCase(approver.gitlabLogin, ci.userLogin)) return true;
  }
  return false;
}

/**
 * The required groups the approver belongs to in `config`, which must be the configuration in force when they decide:
 * someone removed from a group since the request was made no longer counts for it.
 */
export function groupsOf(config: ApproversConfig, requirement: ApprovalRequirement, approverId: string): string[] {
  return requirement.groups
    .map((required) => config.approvers.groups.find((group) => group.name === required.name))
    .filter((group) => group !== undefined && group.members.includes(approverId))
    .map((group) => group!.name);
}

/**
 * Any deny ends it; otherwise approved once every required group has at least its quorum of distinct approvers who
 * approved and counted for it (one person in two required groups counts for both). A requirement with no group is
 * never approved (fail closed).
 */
export function tally(requirement: ApprovalRequirement, decisions: ApprovalDecision[]): TallyResult {
  if (decisions.some((decision) => decision.decision === 'deny')) return 'denied';
  if (requirement.groups.length === 0) return 'pending';
  const approvedFor = (group: string) =>
    new Set(
      decisions
        .filter((decision) => decision.decision === 'approve' && decision.groups.includes(group))
        .map((decision) => decision.approverId),
    ).size;
  return requirement.groups.every((group) => approvedFor(group.name) >= group.quorum) ? 'approved' : 'pending';
}

function sameIgnoringCase(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}
