// ES module entry of the aws-cloudfront-sign drop-in.
import acs from './aws-cloudfront-sign.js'

export const { getSignedUrl, getSignedCookies, getSignedRTMPUrl } = acs
export default acs
