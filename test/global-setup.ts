import { build } from 'vite';

/** The Chrome suite loads the built bundle, so every test run builds it first from the current sources. */
export default async function setup(): Promise<void> {
  await build({ logLevel: 'warn' });
}
