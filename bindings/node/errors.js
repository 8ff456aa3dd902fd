'use strict'
// The error classes. The addon makes every error it throws through makeError (registered
// with it by index.js), so each is an instance of one of these with the core's message.

class CfsignError extends Error {
  constructor(message, code) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}
class UrlError extends CfsignError {}
// A resource is a URL or a URL pattern: its errors are URL errors too.
class ResourceError extends UrlError {}
class PolicyError extends CfsignError {}
class TimeError extends CfsignError {}
class KeyError extends CfsignError {}
class SignError extends CfsignError {}
class CookieError extends CfsignError {}
class ManifestError extends CfsignError {}
class ArgumentError extends CfsignError {}

const byCode = {
  ERR_CFSIGN_URL: UrlError,
  ERR_CFSIGN_RESOURCE: ResourceError,
  ERR_CFSIGN_POLICY: PolicyError,
  ERR_CFSIGN_TIME: TimeError,
  ERR_CFSIGN_KEY: KeyError,
  ERR_CFSIGN_SIGN: SignError,
  ERR_CFSIGN_COOKIE: CookieError,
  ERR_CFSIGN_MANIFEST: ManifestError,
  ERR_CFSIGN_ARGUMENT: ArgumentError,
}

function makeError(code, message) {
  const Class = byCode[code] || CfsignError
  return new Class(message, code)
}

module.exports = {
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
  makeError,
}
