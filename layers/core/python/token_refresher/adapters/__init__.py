"""AWS access, behind the project's own types and errors: the only modules that import boto3.

- ``aws``: typed boto3 clients (retry mode, timeouts; endpoints from AWS_ENDPOINT_URL);
- ``errors``: AWS errors turned into the project's own (``AwsError`` and its kinds);
- ``secrets``: the Secrets Manager store; ``notifier``: SNS; ``queue``: the SQS job sender;
- ``rotation_function``: the rotation function's invokes (finish a stuck rotation, ask for a
  liveness check).
"""

__all__ = ["aws", "errors", "notifier", "queue", "rotation_function", "secrets"]
