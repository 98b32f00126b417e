import { TWEETLAKE_VERSION } from '../version.js';

export { TWEETLAKE_VERSION };
/** What commits record as `engineInfo`. */
export const ENGINE_INFO = `tweetlake/${TWEETLAKE_VERSION}`;
