/** Role membership as the configuration states it (`admins`, `auditors`): by principal id, or by an IdP group. */
import type { Principal } from '../model.ts';

/** A configured role: principal ids (`<issuer name>:<subject>`) and IdP group names. */
export interface RoleMembers {
  principals: readonly string[];
  groups: readonly string[];
}

/** Whether the principal holds the role: its id is listed, or one of its groups is. */
export function isMemberOf(principal: Pick<Principal, 'id' | 'groups'>, role: RoleMembers): boolean {
  return role.principals.includes(principal.id) || principal.groups.some((group) => role.groups.includes(group));
}
