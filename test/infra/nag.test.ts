import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './support.ts';

const packs = (): NagPack[] => [new HIPAASecurityChecks(), new AwsSolutionsChecks(), new ServerlessChecks()];

/** Every unacknowledged finding (errors and warnings) of the three packs, as `<rule> at <construct path>`. */
function findings(scope: App | Stack): string[] {
  return packs().flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) at ${r.constructPath}`),
      ),
  );
}

let app: TestApp;
let reportFile: string;

beforeAll(() => {
  app = buildTestApp();
  // Synthesis runs the packs registered by buildApp and throws on any unacknowledged error.
  reportFile = join(app.app.synth().directory, 'validation-report.json');
});

describe('cdk-nag: HIPAA Security, AWS Solutions, Serverless', () => {
  it('reports no unacknowledged finding, error or warning, anywhere in the app', () => {
    expect(findings(app.app)).toEqual([]);
  });

  it('leaves an empty validation report in the cloud assembly', () => {
    expect(existsSync(reportFile)).toBe(true);
    expect(JSON.parse(readFileSync(reportFile, 'utf8')).pluginReports).toEqual([]);
  });

  it('does report a finding that nothing acknowledges (the check above can fail)', () => {
    const probe = new Stack(new App(), 'Probe');
    new LogGroup(probe, 'Unencrypted', { removalPolicy: RemovalPolicy.DESTROY });
    expect(findings(probe)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HIPAA\.Security-CloudWatchLogGroupEncrypted \(error\) at Probe\//),
      ]),
    );
  });

  it('fails synthesis of the app when a finding is introduced', () => {
    const broken = buildTestApp();
    new LogGroup(broken.controlPlane, 'Unencrypted');
    expect(() => broken.app.synth()).toThrow(/CloudWatchLogGroupEncrypted/);
  });
});
