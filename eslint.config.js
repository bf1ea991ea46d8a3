// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const { defineConfig } = require('eslint/config');
// Prettier owns the layout (.prettierrc, as Nest projects set it up, at this codebase's width);
// this also turns off the ESLint rules that would fight it.
const prettierRecommended = require('eslint-plugin-prettier/recommended');

const TS_FILES = ['{src,libs,test,bench}/**/*.ts'];

// A focused or skipped test passes CI while silently not testing what it should.
const focusOrSkip = ['it', 'test', 'describe'].flatMap((object) => [
  { object, property: 'only', message: `${object}.only would silently skip the rest of the suite.` },
  { object, property: 'skip', message: `${object}.skip hides a test; fix or delete it instead.` },
]);

module.exports = defineConfig(
  { ignores: ['**/dist/**', '**/coverage/**', '**/node_modules/**'] },
  {
    files: TS_FILES,
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Nest providers often have constructors that exist only for DI parameter properties.
      'no-empty-function': 'off',
      '@typescript-eslint/no-empty-function': 'off',
      // Nest modules are decorated empty classes.
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-explicit-any': 'warn',
      // `interface Options extends Base {}` is a normal way to name a type.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      'no-restricted-properties': ['error', ...focusOrSkip],
      'no-restricted-globals': [
        'error',
        ...['fit', 'fdescribe', 'xit', 'xtest', 'xdescribe'].map((name) => ({
          name,
          message: `${name} focuses or skips tests; use plain it/test/describe.`,
        })),
      ],
      'no-restricted-syntax': [
        'error',
        {
          // it.concurrent.only, test.concurrent.skip, ...: the object is itself a member expression.
          selector:
            "MemberExpression[object.type='MemberExpression'][object.object.name=/^(it|test|describe)$/][property.name=/^(only|skip)$/]",
          message: 'Focused or skipped tests are not allowed.',
        },
      ],
    },
  },
  { ...prettierRecommended, files: TS_FILES },
);
