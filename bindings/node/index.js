'use strict'
// The package's main entry: the native API and the @aws-sdk/cloudfront-signer drop-in
// (getSignedUrl, getSignedCookies). Everything is the addon's; this file only re-exports.
const native = require('./native.js')
const errors = require('./errors.js')

native.setErrorFactory(errors.makeError)

module.exports = {
  getSignedUrl: native.awsGetSignedUrl,
  getSignedCookies: native.awsGetSignedCookies,
  Signer: native.Signer,
  SignedPolicy: native.SignedPolicy,
  Verifier: native.Verifier,
  keygen: native.keygen,
  dashUrlQuery: native.dashUrlQuery,
  CfsignError: errors.CfsignError,
  UrlError: errors.UrlError,
  ResourceError: errors.ResourceError,
  PolicyError: errors.PolicyError,
  TimeError: errors.TimeError,
  KeyError: errors.KeyError,
  SignError: errors.SignError,
  CookieError: errors.CookieError,
  ManifestError: errors.ManifestError,
  ArgumentError: errors.ArgumentError,
}
