// ES module entry: the same objects as index.js.
import cfsign from './index.js'

export const {
  getSignedUrl,
  getSignedCookies,
  Signer,
  SignedPolicy,
  Verifier,
  keygen,
  dashUrlQuery,
  CfsignError,
  UrlError,
  ResourceError,
  PolicyError,
  TimeError,
  KeyError,
  SignError,
  CookieError,
  ManifestError,
  ArgumentError,
} = cfsign
export default cfsign
