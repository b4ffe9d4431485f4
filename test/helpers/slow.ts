/**
 * The tag for slow load tests in test/unit (big transfers, bursts, fuzzing): `npm run test:quick`
 * (RACKBOOT_SKIP_SLOW=1) skips them and says so; `npm test` and CI run them.
 */
export const SLOW: string | false = process.env.RACKBOOT_SKIP_SLOW === '1' ? 'slow load test (RACKBOOT_SKIP_SLOW=1; npm test runs it)' : false;
