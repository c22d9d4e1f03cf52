"""Imported first by each function's package (functions/<name>/__init__.py), before anything imports pydantic.

Powertools' batch utility checks at import whether pydantic is loaded and, if it is, builds the pydantic models of
SQS, Kinesis, DynamoDB-stream and Kafka records (and the CloudWatch Logs ones they use: about 30 ms of cold start)
for typing BatchProcessor's optional `model=`. These functions pass no model (records are data classes), so
importing the batch utility while pydantic is still unloaded skips building models nothing uses.
"""

from __future__ import annotations

import aws_lambda_powertools.utilities.batch  # noqa: F401  (for its import-time side effect, see above)
