"""Lambda function URL requests and responses (payload format 2.0), as plain data."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel


def body_bytes(request: LambdaFunctionUrlModel) -> bytes:
    """The raw body: function URLs base64-encode bodies they do not take for text."""
    body = request.body
    if body is None:
        return b""
    text = body if isinstance(body, str) else str(body)
    return base64.b64decode(text) if request.isBase64Encoded else text.encode()


def caller_arn(request: LambdaFunctionUrlModel) -> str | None:
    """The IAM caller of an `AWS_IAM` function URL (SigV4-verified by Lambda)."""
    authorizer = request.requestContext.authorizer
    if authorizer is None or authorizer.iam is None:
        return None
    return authorizer.iam.userArn or None


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, separators=(",", ":")),
    }
