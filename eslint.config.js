// One linter for the whole tree; shared/ stays pure domain (DESIGN.md section 3).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // AssemblyScript (*.as.ts) is checked by its compiler: scripts/build-wasm.ts and the scan-loop test.
  { ignores: ['node_modules', 'cdk.out', '.gatehouse', 'coverage', 'dist', 'test-results', '**/*.as.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/adapters/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@aws-sdk/*',
                'aws-lambda',
                '@middy/*',
                'aws-cdk-lib',
                'aws-cdk-lib/*',
                'node:http',
                'node:https',
                'node:fs',
                'node:fs/*',
                'undici',
                '@aws-lambda-powertools/*',
              ],
              message: 'shared/ is the pure domain: do I/O in an adapter (shared/adapters/*).',
            },
          ],
        },
      ],
    },
  },
);
