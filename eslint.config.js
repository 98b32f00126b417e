import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first (docs/architecture.md). A layer imports only layers before it
 * and the shared modules at the top of src/ (errors, log, redact, os-user); `src/index.ts`, the
 * package entry, may import any layer.
 */
export const LAYERS = [
  'storage',
  'duck',
  'delta',
  'engine',
  'sql',
  'mlflow',
  'model',
  'tracking',
  'pipeline',
  'analytics',
  'ui',
  'cli',
];

/** `no-restricted-imports` for each layer: every layer above it is off limits. */
function layerRules() {
  const rule = (above, prefix, who) => [
    'error',
    {
      patterns: [
        {
          group: above.flatMap((l) => [`${prefix}${l}`, `${prefix}${l}/**`]),
          message: `${who} may import only the layers below it (${LAYERS.join(' < ')}; docs/architecture.md)`,
        },
      ],
    },
  ];
  return [
    ...LAYERS.slice(0, -1).map((layer, i) => ({
      files: [`src/${layer}/**/*.ts`],
      rules: { 'no-restricted-imports': rule(LAYERS.slice(i + 1), '../', `src/${layer}`) },
    })),
    {
      files: ['src/*.ts'],
      ignores: ['src/index.ts'],
      rules: { 'no-restricted-imports': rule(LAYERS, './', 'a shared module at the top of src/') },
    },
  ];
}

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
  ...layerRules(),
  {
    // Every error tweetlake throws is a TweetlakeError subclass (code, domain, retryable, what to do).
    files: ['src/**/*.ts'],
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
