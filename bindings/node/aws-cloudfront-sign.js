'use strict'
// Drop-in for aws-cloudfront-sign: getSignedUrl(url, params), getSignedCookies(url, params),
// getSignedRTMPUrl(domain, s3key, params). Everything is the addon's; this file only re-exports.
const native = require('./native.js')
require('./index.js') // registers the error classes with the addon

module.exports = {
  getSignedUrl: native.acsGetSignedUrl,
  getSignedCookies: native.acsGetSignedCookies,
  getSignedRTMPUrl: native.acsGetSignedRTMPUrl,
}
