import { defineConfig } from 'vitest/config';

/** `npm run fuzz`: the full campaign (test/fuzz/campaign.fuzz.ts), kept out of `npm test`'s include. */
export default defineConfig({
  test: {
    include: ['test/fuzz/campaign.fuzz.ts'],
    pool: 'forks',
    testTimeout: 4 * 60 * 60 * 1000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
