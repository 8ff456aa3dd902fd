/** A time: a `Date`, milliseconds since the epoch (as `Date.getTime()`), or an ISO 8601 string
 * (`2030-01-01`, `2030-01-01T00:00:00Z`; without an offset it is UTC) or epoch seconds as a string. */
export type TimeInput = Date | number | string

/** What a signature grants: the options of `signUrl`, `signUrls`, `signPolicy` and `signCookies`. */
export interface PolicyOptions {
  /** When access ends. Give this or `expiresIn`. */
  expires?: TimeInput
  /** How long access lasts from now: `"90s"`, `"15m"`, `"2h"`, `"7d"`, `"1h30m"`. */
  expiresIn?: string
  /** Access starts after this time (makes the policy custom). */
  notBefore?: TimeInput
  /** Only viewers in this IPv4 address or CIDR range (makes the policy custom). */
  ip?: string
  /** The URL or wildcard the policy grants, when it is not the URL itself (e.g. `https://host/hls/*`). */
  resource?: string
  /** A custom policy JSON, signed exactly as written (instead of the options above). */
  policy?: string
  /** Percent-encode the URL first (spaces, non-ASCII) instead of refusing it. */
  encode?: boolean
  /** The clock to use (tests, reproductions). */
  now?: TimeInput
}

/** The options of `signUrl` and `signUrls`. */
export type UrlOptions = PolicyOptions

/** The options of `signCookies`: the policy options and the cookie attributes. */
export interface CookieOptions extends Omit<PolicyOptions, 'resource'> {
  /** `Domain=` (default: host-only). */
  domain?: string
  /** `Path=` (default `/`), a literal prefix. */
  path?: string
  /** `Secure` (default true). */
  secure?: boolean
  /** `HttpOnly` (default true). */
  httpOnly?: boolean
  /** `SameSite` (default `Lax`). */
  sameSite?: 'Lax' | 'Strict' | 'None'
  /** `Max-Age=` as a duration (`"4h"`); default: a session cookie. */
  maxAge?: string
}

/** The options of `signManifest`: the policy options and how the URIs are signed. `resource`
 * defaults to the manifest's folder and below (`https://host/path/*`). */
export interface ManifestOptions extends PolicyOptions {
  /** `'policy'` (default): one custom policy stamped on every covered URI (HLS and DASH,
   * templates included). `'urls'`: each covered URI signed with its own canned policy (only
   * an expiry: no `notBefore`, `ip` or `policy`; no DASH templates). */
  mode?: 'policy' | 'urls'
}

/** A URI that `signManifest` left as it was. */
export interface LeftAloneUri {
  /** 1-based line of the manifest. */
  line: number
  /** Where it was: `URI line`, `EXT-X-KEY URI`, `BaseURL`, `SegmentURL@media`, ... */
  place: string
  /** The URI as written. */
  uri: string
  /** Why it was not signed. */
  reason: string
}

/** The result of `signManifest`: the fields of `cfsign manifest --json`, in camel case. */
export interface SignedManifest {
  /** The manifest with every covered URI signed: a string if given a string, else a `Buffer`. */
  manifest: string | Buffer
  format: 'HLS' | 'DASH'
  mode: 'policy' | 'urls'
  /** The resource that decided which URIs were signed. */
  resource: string
  /** When access ends, epoch seconds. */
  expires: number
  /** How many URIs were signed. */
  signed: number
  /** How many URIs were signed per place, in the order the places first appeared. */
  signedByPlace: Record<string, number>
  /** Every URI left as it was, in document order. */
  leftAlone: LeftAloneUri[]
}

/** The request details of `verify` and `explain`. */
export interface VerifyOptions {
  /** The `Cookie` header, or the cookies as `{ name: value }` (as `getSignedCookies` returns them). */
  cookies?: string | Record<string, string | number>
  /** The viewer's IP address (needed for policies with an IP condition). */
  clientIp?: string
  /** The time of the request (default: now). */
  now?: TimeInput
}

/** `@aws-sdk/cloudfront-signer`'s hash option. */
export type CloudfrontSignerAlgorithm = 'SHA1' | 'SHA256'

/** `@aws-sdk/cloudfront-signer`'s credentials. */
export type CloudfrontSignerCredentials = {
  keyPairId: string
  privateKey: string | Buffer
  passphrase?: string
  algorithm?: CloudfrontSignerAlgorithm
}

/** `@aws-sdk/cloudfront-signer`'s input with policy parameters. */
export type CloudfrontSignInputWithParameters = CloudfrontSignerCredentials & {
  url: string
  dateLessThan: string | number | Date
  dateGreaterThan?: string | number | Date
  ipAddress?: string
  policy?: never
}

/** `@aws-sdk/cloudfront-signer`'s input with a ready policy. */
export type CloudfrontSignInputWithPolicy = CloudfrontSignerCredentials & {
  url?: string
  policy: string
  dateLessThan?: never
  dateGreaterThan?: never
  ipAddress?: never
}

/** `@aws-sdk/cloudfront-signer`'s input. */
export type CloudfrontSignInput = CloudfrontSignInputWithParameters | CloudfrontSignInputWithPolicy

/** `@aws-sdk/cloudfront-signer`'s cookies. */
export interface CloudfrontSignedCookiesOutput {
  'CloudFront-Key-Pair-Id': string
  'CloudFront-Signature': string
  'CloudFront-Expires'?: number
  'CloudFront-Policy'?: string
  'CloudFront-Hash-Algorithm'?: string
}

/** `aws-cloudfront-sign`'s parameters. */
export interface SignatureOptions {
  keypairId: string
  /** Milliseconds since the epoch (or a `Date`, or a moment); default: 30 minutes from now. */
  expireTime?: number | Date | { valueOf(): number } | string
  ipRange?: string
  privateKeyString?: string
  privateKeyPath?: string
}

/** The `code` of every error the package throws. */
export type ErrorCode =
  | 'ERR_CFSIGN_URL'
  | 'ERR_CFSIGN_RESOURCE'
  | 'ERR_CFSIGN_POLICY'
  | 'ERR_CFSIGN_TIME'
  | 'ERR_CFSIGN_KEY'
  | 'ERR_CFSIGN_SIGN'
  | 'ERR_CFSIGN_COOKIE'
  | 'ERR_CFSIGN_MANIFEST'
  | 'ERR_CFSIGN_ARGUMENT'
