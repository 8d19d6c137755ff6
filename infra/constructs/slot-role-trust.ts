import {
  ArnPrincipal,
  PolicyStatement,
  PrincipalBase,
  PrincipalPolicyFragment,
  type IAssumeRolePrincipal,
  type PolicyDocument,
} from 'aws-cdk-lib/aws-iam';

/** The session tag every slot-role session must carry: the grant it serves (DESIGN.md section 2.3). */
export const GRANT_ID_SESSION_TAG = 'gatehouse:grant-id';

/**
 * The trust of a slot role: exactly one statement letting the given roles `sts:AssumeRole`, `sts:SetSourceIdentity` and
 * `sts:TagSession`, and only with a `gatehouse:grant-id` session tag. Written as a principal so the Role's trust policy
 * holds this statement and nothing else (the default principal would add an unconditioned AssumeRole).
 */
export class SlotRoleTrust extends PrincipalBase implements IAssumeRolePrincipal {
  constructor(private readonly roleArns: readonly string[]) {
    super();
    if (roleArns.length === 0) throw new Error('a slot role needs at least one role allowed to assume it');
  }

  get policyFragment(): PrincipalPolicyFragment {
    return new PrincipalPolicyFragment({ AWS: [...this.roleArns] });
  }

  override addToAssumeRolePolicy(document: PolicyDocument): void {
    document.addStatements(
      new PolicyStatement({
        principals: this.roleArns.map((arn) => new ArnPrincipal(arn)),
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
        // Null=false: the request must carry the tag (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null).
        conditions: { Null: { [`aws:RequestTag/${GRANT_ID_SESSION_TAG}`]: 'false' } },
      }),
    );
  }

  dedupeString(): string | undefined {
    return undefined;
  }

  override toString(): string {
    return `SlotRoleTrust(${this.roleArns.join(',')})`;
  }
}
