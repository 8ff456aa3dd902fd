"""A real Django settings module for the end-to-end test: django-storages' S3 settings on a
moto bucket, the cfsign storage, CloudFront pointing at a local `cfsign edge`. The values
that depend on the run (ports, key file) come from the environment the test sets."""

import os
from pathlib import Path

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
ROOT_URLCONF = "django_urls"
USE_TZ = True

STORAGES = {
    "default": {"BACKEND": "cfsign.django.CloudFrontS3Storage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# django-storages' own settings: the bucket (moto here) ...
AWS_STORAGE_BUCKET_NAME = os.environ["CFSIGN_TEST_BUCKET"]
AWS_S3_ENDPOINT_URL = os.environ["CFSIGN_TEST_S3_ENDPOINT"]
AWS_S3_REGION_NAME = "us-east-1"
AWS_S3_ACCESS_KEY_ID = "testing"
AWS_S3_SECRET_ACCESS_KEY = "testing"
# ... and the CloudFront distribution in front of it (the local edge here).
AWS_S3_CUSTOM_DOMAIN = os.environ["CFSIGN_TEST_EDGE_HOST"]
AWS_S3_URL_PROTOCOL = "http:"
AWS_QUERYSTRING_EXPIRE = 600
AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
AWS_CLOUDFRONT_KEY = Path(os.environ["CFSIGN_TEST_KEY_FILE"]).read_bytes()
# cfsign's addition: SHA-256 (the key above is ECDSA P-256).
AWS_CLOUDFRONT_HASH_ALGORITHM = "SHA256"
