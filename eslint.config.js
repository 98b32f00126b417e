import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.venv*/**',
      'models/**',
      'coverage/**',
      'bench/.work/**',
      'lakehouse/**',
      'test-artifacts/**',
      'test/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain JavaScript scripts run by Node (TypeScript files get their globals from @types/node).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
      },
    },
  },
  {
    // Every error tweetlake throws is a TweetlakeError subclass (code, domain, retryable, what to do).
    files: ['src/**/*.ts'],
    ignores: ['src/storage/**', 'src/duck/**', 'src/delta/**', 'src/engine/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ThrowStatement > NewExpression[callee.name='Error']",
          message: 'throw a TweetlakeError subclass (src/errors.ts) whose message says what to do',
        },
      ],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
