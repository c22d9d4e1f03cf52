"""The LiveKit voice agent.

Importing the package turns on log masking for the whole process (functions/common/redaction.py): no email
address or phone number reaches a log line, whichever logger writes it (ours, LiveKit's, botocore's). The agent's
own log calls never include transcript text or the contact given to book_sales_meeting.
"""

from functions.common.redaction import install_log_masking

install_log_masking()
