/** Environment variables whose values are secrets: never printed, whatever message carries them. */
export const SECRET_VARIABLES = [
  'MLFLOW_TRACKING_TOKEN',
  'MLFLOW_TRACKING_PASSWORD',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'DATABRICKS_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'TWEETLAKE_DASHBOARD_TOKEN',
] as const;

const MASK = '***';

/** Query parameters that carry credentials in URLs (presigned S3 URLs, tokens, keys). */
const SECRET_PARAMS =
  /([?&](?:token|access_token|api_key|apikey|key|password|secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#'"]+/gi;

/**
 * The text with secrets masked: the user-info part of URLs (`https://user:pass@host` →
 * `https://***@host`), credential query parameters, `Bearer`/`Basic` header values, Hugging Face
 * tokens, and the values of the secret environment variables wherever they appear.
 */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"]+@/gi, `$1${MASK}@`)
    .replace(SECRET_PARAMS, `$1${MASK}`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, `$1 ${MASK}`)
    .replace(/\bhf_[A-Za-z0-9]{16,}\b/g, MASK);
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value && value.length >= 4) out = out.split(value).join(MASK);
  }
  return out;
}

/** A URL without its user-info part (for links shown to people). */
export function withoutUserInfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/i, '$1');
}
