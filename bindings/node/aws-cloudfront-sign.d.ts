// Drop-in for aws-cloudfront-sign.
import type { SignatureOptions } from './types'

export type { SignatureOptions } from './types'

/** A signed URL for `url` (a canned policy, or a custom one with `ipRange`). */
export declare function getSignedUrl(url: string, params: SignatureOptions): string
/** Signed cookies for `url` (a URL or a wildcard pattern), always with a custom policy. */
export declare function getSignedCookies(
  url: string,
  params: SignatureOptions,
): Record<'CloudFront-Policy' | 'CloudFront-Signature' | 'CloudFront-Key-Pair-Id', string>
/** An RTMP server path and signed stream name (RTMP distributions were retired at the end of 2020). */
export declare function getSignedRTMPUrl(
  domain: string,
  s3key: string,
  params: SignatureOptions,
): { rtmpServerPath: string; rtmpStreamName: string }
