# Starts moto's server with small additions to its CloudFront control plane.
#
# moto 5.2 lacks a few CloudFront operations and fields that cfsign's provisioning
# code needs to be tested end to end (checked by experiment against moto 5.2.1; see
# shared/reference/dependencies.md section 7.5). This file fills exactly those gaps, in
# the way the CloudFront API reference describes them, and nothing else:
#
#   * Origins keep `OriginAccessControlId` and `S3OriginConfig` (moto drops both, so a
#     distribution read back never shows its OAC).
#   * `UpdateKeyGroup` and `DeleteKeyGroup` (moto: HTTP 500), with a new ETag on each
#     change and `If-Match` checked (`PreconditionFailed`, `InvalidIfMatchVersion`).
#   * `UpdateDistribution` gives the distribution a new ETag and checks `If-Match`
#     (moto accepts any value and keeps the ETag).
#   * `ListDistributionsByKeyGroup` (moto: 404).
#
# Everything else (S3, KMS, public keys, OACs, distributions, tags) is moto as shipped.
# Usage: python3 moto_shim.py -H 127.0.0.1 -p PORT (the arguments of moto_server).
import sys

from moto.cloudfront import models, responses, urls
from moto.cloudfront.exceptions import CloudFrontException, InvalidIfMatchVersion
from moto.core.responses import ActionResult, EmptyResult


class PreconditionFailed(CloudFrontException):
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed",
            "The precondition given in one or more of the request header fields evaluated to false.",
        )


class NoSuchResource(CloudFrontException):
    def __init__(self, code: str, what: str) -> None:
        super().__init__(code, f"The specified {what} does not exist.")


def _check_if_match(if_match, etag) -> None:
    if not if_match:
        raise InvalidIfMatchVersion
    if if_match != etag:
        raise PreconditionFailed


# Origins: keep the OAC ID and the S3 origin config.
_origin_init = models.Origin.__init__


def _origin_init_keeping_oac(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    if "S3OriginConfig" in origin:
        self.s3_origin_config = origin["S3OriginConfig"]


models.Origin.__init__ = _origin_init_keeping_oac


# Distributions: If-Match checked, a new ETag per update.
_update_distribution = models.CloudFrontBackend.update_distribution


def _update_distribution_checked(self, dist_config, _id, if_match):
    if _id in self.distributions:
        _check_if_match(if_match, self.distributions[_id].etag)
    dist, location, _ = _update_distribution(self, dist_config, _id, if_match)
    dist.etag = models.random_id()
    return dist, location, dist.etag


models.CloudFrontBackend.update_distribution = _update_distribution_checked


def _key_group(backend, group_id):
    if group_id not in backend.key_groups:
        raise NoSuchResource("NoSuchResource", "key group")
    return backend.key_groups[group_id]


def update_key_group(self):
    group_id = self._get_param("Id")
    key_group = _key_group(self.backend, group_id)
    _check_if_match(self._get_param("IfMatch"), key_group.etag)
    key_group.name = self._get_param("KeyGroupConfig.Name")
    key_group.items = self._get_param("KeyGroupConfig.Items", [])
    key_group.etag = models.random_id(length=14)
    return ActionResult({"KeyGroup": key_group, "ETag": key_group.etag})


def delete_key_group(self):
    group_id = self._get_param("Id")
    key_group = _key_group(self.backend, group_id)
    _check_if_match(self._get_param("IfMatch"), key_group.etag)
    del self.backend.key_groups[group_id]
    return EmptyResult()


def list_distributions_by_key_group(self):
    group_id = self._get_param("KeyGroupId")
    ids = []
    for dist in self.backend.distributions.values():
        config = dist.distribution_config
        behaviors = [config.DefaultCacheBehavior]
        behaviors += config.CacheBehaviors.get("Items") or []
        if any(group_id in b.trusted_key_groups.items for b in behaviors):
            ids.append(dist.distribution_id)
    result = {
        "DistributionIdList": {
            "Marker": "",
            "MaxItems": 100,
            "IsTruncated": False,
            "Quantity": len(ids),
            "Items": ids or None,
        }
    }
    return ActionResult(result)


responses.CloudFrontResponse.update_key_group = update_key_group
responses.CloudFrontResponse.delete_key_group = delete_key_group
responses.CloudFrontResponse.list_distributions_by_key_group = list_distributions_by_key_group
urls.url_paths["{0}/2020-05-31/distributionsByKeyGroupId/(?P<key_group_id>[^/]+)$"] = (
    responses.CloudFrontResponse.dispatch
)

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
